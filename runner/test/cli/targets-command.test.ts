/** `opsc targets check` and `show`, run from source in a child process against the project's example repository. */
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
    const r = opsc("targets", "check", "--repo", join(ROOT, "examples/minimal"), "--format", "json");
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

describe("--format text|json on targets show and check", () => {
  const repo = join(ROOT, "examples/minimal");

  it("show prints text by default and JSON with --format json", () => {
    const text = opsc("targets", "show", "local", "--repo", repo);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^local\nlabels: \{.*\}\nvars:\n/);
    const json = opsc("targets", "show", "local", "--repo", repo, "--format", "json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ name: "local", vars: {}, varsFrom: {} });
  });

  it("check prints a table with --format text", () => {
    const r = opsc("targets", "check", "--repo", repo, "--format", "text");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^TARGET\s+ADDRESS\s+RESULT/);
    expect(r.out).toContain("1 of 1 targets ok");
  });

  it("keeps --json working as a hidden alias of --format json", () => {
    const show = opsc("targets", "show", "local", "--repo", repo, "--json");
    expect(JSON.parse(show.out)).toMatchObject({ name: "local" });
    const check = opsc("targets", "check", "--repo", repo, "--json");
    expect(JSON.parse(check.out)).toEqual([expect.objectContaining({ target: "local", ok: true })]);
  });

  it("refuses another format, and --help shows --format with examples, not --json", () => {
    const bad = opsc("targets", "show", "local", "--repo", repo, "--format", "yaml");
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/--format <format>.*yaml.*invalid.*text, json/s);
    for (const sub of ["show", "check"]) {
      const help = opsc("targets", sub, "--help");
      expect(help.code).toBe(0);
      expect(help.out).toMatch(
        /--format <format>\s+output format \(choices: "text", "json", default: "text"\)/,
      );
      expect(help.out).toContain(`opsc targets ${sub}`);
      expect(help.out).toMatch(/--format json \| jq/);
      expect(help.out).not.toContain("--json");
    }
  });
});
