/** `opsc validate` and `opsc init` end to end, through the real CLI entry point. */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const MAIN = join(ROOT, "runner/src/cli/main.ts");
// The TypeScript sources run through tsx, so the test never sees a stale dist/ bundle.
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const temps: string[] = [];

function opsc(args: string[], cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", TSX, MAIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "opsc-cli-"));
  temps.push(d);
  return d;
}

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe("opsc validate", () => {
  // Every example automation repository (examples/github holds workflows, not a repository).
  const examples = readdirSync(join(ROOT, "examples"), { withFileTypes: true }).filter(
    (e) => e.isDirectory() && existsSync(join(ROOT, "examples", e.name, "opsconductor.yaml")),
  );
  // Those that pin a step library need it served: runner/test/libraries/standard-library-example.test.ts
  // validates them against this project's own repository. The others need no network.
  const locked = examples.filter((e) => existsSync(join(ROOT, "examples", e.name, "opsconductor.lock")));
  const offline = examples.filter((e) => !locked.includes(e));

  it("finds the example repositories", () => {
    expect(examples.map((e) => e.name).sort()).toEqual(["config-management", "minimal", "web-fleet"]);
    expect(locked.map((e) => e.name)).toEqual(["config-management"]);
  });

  it.each(offline.map((e) => e.name))("exits 0 on examples/%s with no warnings", (name) => {
    const r = opsc(["validate", "--repo", `examples/${name}`]);
    expect(r.stdout).toBe("no problems found\n");
    expect(r.code).toBe(0);
  });

  it("finds the repository upward from a subfolder", () => {
    const r = opsc(["validate"], join(ROOT, "examples/web-fleet/steps/apt"));
    expect(r.code).toBe(0);
  });

  it("exits 1 with a compiler-style report, the offending line and a caret", () => {
    const dir = temp();
    writeFileSync(join(dir, "opsconductor.yaml"), "name: t\n");
    mkdirSync(join(dir, "jobs"));
    writeFileSync(join(dir, "jobs/j.yaml"), "steps:\n  - run: echo ${{ inputs.x }}\n");
    const r = opsc(["validate", "--repo", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("jobs/j.yaml:2:15: error[expr.in-script]:");
    expect(r.stdout).toContain("2 |   - run: echo ${{ inputs.x }}\n  |               ^\n");
    expect(r.stdout).toMatch(/hint: pass the value through `env:`/);
    expect(r.stdout).toMatch(/1 error, 1 warning\n$/);

    const json = JSON.parse(opsc(["validate", "--repo", dir, "--format", "json"]).stdout) as {
      ok: boolean;
      diagnostics: Array<Record<string, unknown>>;
    };
    expect(json.ok).toBe(false);
    expect(json.diagnostics.map((d) => d.code)).toEqual(["selector.no-match", "expr.in-script"]);
    expect(json.diagnostics[1]).toMatchObject({
      file: "jobs/j.yaml",
      line: 2,
      col: 15,
      severity: "error",
      code: "expr.in-script",
    });

    const gh = opsc(["validate", "--repo", dir, "--format", "github"]).stdout;
    expect(gh).toMatch(/^::error file=jobs\/j\.yaml,line=2,col=15,title=expr\.in-script::/m);

    const sarif = JSON.parse(opsc(["validate", "--repo", dir, "--format", "sarif"]).stdout) as {
      version: string;
      runs: Array<{
        results: Array<{
          ruleId: string;
          locations: Array<{ physicalLocation: { region: { startLine: number } } }>;
        }>;
      }>;
    };
    expect(sarif.version).toBe("2.1.0");
    expect(sarif.runs[0]!.results[1]!.ruleId).toBe("expr.in-script");
    expect(sarif.runs[0]!.results[1]!.locations[0]!.physicalLocation.region.startLine).toBe(2);
  });

  it("exits 2 on a usage error", () => {
    const r = opsc(["validate", "--format", "xml", "--repo", "examples/minimal"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/xml/);
  });

  it("outside any repository: a user error with a hint, no stack trace", () => {
    const r = opsc(["validate"], temp());
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no opsconductor\.yaml/);
    expect(r.stderr).toMatch(/opsc init/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it("never prints a line of a credentials file", () => {
    const dir = temp();
    writeFileSync(join(dir, "opsconductor.yaml"), "");
    mkdirSync(join(dir, "credentials"));
    writeFileSync(join(dir, "credentials/prod.sops.yaml"), "password: hunter2\n");
    const r = opsc(["validate", "--repo", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("credential.not-encrypted");
    expect(r.stdout).not.toContain("hunter2");
  });
});

describe("opsc init", () => {
  it("creates a repository that validates clean, with git and editor schemas", () => {
    const dir = join(temp(), "automation");
    const r = opsc(["init", dir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, ".git/HEAD"))).toBe(true);
    expect(readFileSync(join(dir, ".git/HEAD"), "utf8")).toContain("refs/heads/main");
    const settings = JSON.parse(readFileSync(join(dir, ".vscode/settings.json"), "utf8")) as Record<
      string,
      Record<string, string[]>
    >;
    expect(settings["yaml.schemas"]!["./.opsconductor/schema/job.schema.json"]).toEqual(["jobs/**/*.yaml"]);
    const schema = JSON.parse(readFileSync(join(dir, ".opsconductor/schema/job.schema.json"), "utf8")) as {
      $id: string;
    };
    expect(schema.$id).toBe("https://opsconductor.dev/schema/job.schema.json");
    expect(readFileSync(join(dir, ".sops.yaml"), "utf8")).toMatch(/creation_rules/);
    const v = opsc(["validate", "--repo", dir]);
    expect(v.stdout).toBe("no problems found\n");
    expect(v.code).toBe(0);
  });

  it("refuses a folder that already holds opsconductor.yaml, and changes nothing", () => {
    const dir = temp();
    writeFileSync(join(dir, "opsconductor.yaml"), "name: mine\n");
    const r = opsc(["init", dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/already holds an automation repository/);
    expect(readdirSync(dir)).toEqual(["opsconductor.yaml"]);
  });

  it("never overwrites a file", () => {
    const dir = temp();
    mkdirSync(join(dir, "jobs"));
    writeFileSync(join(dir, "jobs/hello.yaml"), "mine\n");
    const r = opsc(["init", dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/jobs\/hello\.yaml/);
    expect(readFileSync(join(dir, "jobs/hello.yaml"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dir, "opsconductor.yaml"))).toBe(false);
  });

  it("--update-schemas keeps other editor settings", () => {
    const dir = join(temp(), "r");
    opsc(["init", dir]);
    writeFileSync(join(dir, ".vscode/settings.json"), JSON.stringify({ "editor.tabSize": 2 }));
    const r = opsc(["init", "--update-schemas", dir]);
    expect(r.code).toBe(0);
    const settings = JSON.parse(readFileSync(join(dir, ".vscode/settings.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(settings["editor.tabSize"]).toBe(2);
    expect(Object.keys(settings["yaml.schemas"] as object)).toHaveLength(6);
  });
});
