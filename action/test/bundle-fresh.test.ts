/**
 * action/dist/index.js is committed (GitHub runs it as is), so it must be what
 * the sources build to now. This fails when someone changed the sources (the
 * action's or the engine's) without `npm run build:action`, as actions/checkout's
 * check-dist workflow does.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { PROJECT_ROOT } from "./run-action.js";

it("the committed bundle is what the sources build to (else: npm run build:action)", () => {
  const out = mkdtempSync(join(tmpdir(), "opsc-bundle-"));
  try {
    const r = spawnSync(process.execPath, ["scripts/build-action.mjs", "--outdir", out], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const fresh = readFileSync(join(out, "index.js"), "utf8");
    const committed = readFileSync(join(PROJECT_ROOT, "action/dist/index.js"), "utf8");
    // Compared without printing 4 MB on failure.
    expect(
      fresh === committed,
      "action/dist/index.js is stale: run `npm run build:action` and commit it",
    ).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
