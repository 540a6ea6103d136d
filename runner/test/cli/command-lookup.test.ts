/**
 * `opsc` defines only the command it runs (start-up): `--help` still lists
 * every command, and a mistyped name still gets commander's suggestion, as
 * usage errors exit 2 with a pointer to --help.
 */
import { describe, expect, it } from "vitest";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";
import { scratchFolders } from "../helpers/scratch.js";

const home = scratchFolders().tmp("opsc-lookup-");
const run = (args: string[]) => opsc(args, { cwd: home, env: cleanEnv(home) });

describe("finding the command", () => {
  it("lists every command under --help", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]);
    for (const name of ["approve", "audit", "diff", "drift", "init", "plan", "run", "serve", "validate"])
      expect(listed).toContain(name);
  });

  it("suggests the command a typo meant, exit 2", () => {
    const r = run(["validat"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'validat'");
    expect(r.stderr).toContain("(Did you mean validate?)");
    expect(r.stderr).toContain("(run with --help for usage)");
  });

  it("gives a known command its own help and options", () => {
    const r = run(["validate", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: opsc validate \[options\]/);
    expect(r.stdout).toContain("--format <format>");
    const bad = run(["validate", "--nope"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("error: unknown option '--nope'");
  });
});
