/** The `opsc init` repository, run by the built CLI: an input is text, never an expression. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { git } from "../helpers/automation-repo.js";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";

const home = mkdtempSync(join(tmpdir(), "opsc-once-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe("opsc run hello -i who=<an expression>", () => {
  it("greets with the text as given, not the run id or the target's labels", () => {
    const repo = join(home, "automation");
    const env = cleanEnv(home, { NO_COLOR: "1" });
    expect(opsc(["init", repo], { cwd: home, env }).status).toBe(0);
    git(repo, "add", "-A");
    git(repo, "commit", "-qm", "automation repository");
    const who = "${{ run.id }}/${{ toJSON(target.labels) }}";
    const r = opsc(["run", "hello", "-i", `who=${who}`, "--output", "--no-push"], { cwd: repo, env });
    expect(r.stderr + r.stdout).toContain(`hello, ${who} from`);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/hello, \d{8}T\d{6}Z-hello-/);
  });
});
