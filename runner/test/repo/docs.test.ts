/** The docs stay true: the generated reference is current and every diagnostic code is documented. */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("docs", () => {
  it("docs/repository-format.md's reference matches the schemas", () => {
    const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
    const r = spawnSync(
      process.execPath,
      ["--import", tsx, join(ROOT, "scripts/schema-docs.ts"), "--check"],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("docs/validation.md documents every diagnostic code the loader emits", () => {
    const doc = readFileSync(join(ROOT, "docs/validation.md"), "utf8");
    const codes = new Set<string>();
    for (const file of sources(join(ROOT, "runner/src/repo")).filter((f) => !f.endsWith("init-files.ts"))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /"((?:file|yaml|repo|layout|id|internal|schema|ref|credential|target|step|job|expr|input|cron|selector|library|approval)\.[a-z-]+)"/g,
      )) {
        codes.add(m[1]!);
      }
    }
    expect(codes.size).toBeGreaterThan(40);
    const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});
