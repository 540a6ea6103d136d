/** `opsc targets check`, run from source in a child process against the project's example repository. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../../", import.meta.url).pathname;

function opsc(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "runner/src/cli/main.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("opsc targets check", () => {
  it("connects, runs true and reports latency per target", () => {
    const r = opsc("targets", "check", "--repo", join(ROOT, "examples/minimal"), "--json");
    expect(r.code).toBe(0);
    const results = JSON.parse(r.out) as Array<{ target: string; ok: boolean; execMs: number }>;
    expect(results).toEqual([expect.objectContaining({ target: "local", address: "local", ok: true })]);
    expect(results[0]!.execMs).toBeGreaterThanOrEqual(0);
  });

  it("says when the selector matches nothing", () => {
    const r = opsc("targets", "check", "role=none", "--repo", join(ROOT, "examples/minimal"));
    expect(r.code).toBe(3);
    expect(r.out).toContain("no target matches role=none");
  });
});
