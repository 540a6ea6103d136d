/**
 * `opsc drift` as a process on a repository without a remote: exit codes
 * (0 clean, 5 drift, 1 a target not checked), the report committed locally on
 * `opsconductor/drift/<job>`, one commit per drift run on top of the last, and
 * no branch at all for a job that never drifted.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";

const BRANCH = "opsconductor/drift/conf";
let repo: TestRepo;
let dir: string;
let env: Record<string, string>;
let hostKey: string;

beforeAll(() => {
  repo = new TestRepo("opsc-drift-cli-");
  dir = mkdtempSync(join(tmpdir(), "opsc-drift-cli-target-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hostkey")]);
  hostKey = readFileSync(join(dir, "hostkey.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  env = cleanEnv(repo.dir, { OPSC_ACTOR: "drift-cli" });
  repo.commit({
    "opsconductor.yaml": "name: drift-cli\n",
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "files/app.conf": "port=8080\n",
    "jobs/conf.yaml": [
      "targets: { names: [here] }",
      "steps:",
      `  - { id: conf, copy: { src: files/app.conf, dest: "${dir}/app.conf" } }`,
      "  - { id: note, run: echo noted }",
      "",
    ].join("\n"),
  });
});

afterAll(() => {
  for (const d of [dir, repo?.dir]) if (d) rmSync(d, { recursive: true, force: true });
});

const drift = (...args: string[]) => opsc(["drift", "conf", ...args], { cwd: repo.dir, env });
const branchLog = () => git(repo.dir, "log", "--format=%s", BRANCH).split("\n");

describe("opsc drift", () => {
  it("documents itself with examples and its exit codes", () => {
    const help = opsc(["drift", "--help"], { cwd: repo.dir, env });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Examples:");
    expect(help.stdout).toContain("Exit status: 0 clean; 5 drift found; 1 a target could not be checked");
  });

  it("creates no branch while clean; reports drift (exit 5) on a local branch, one commit per run; clean again after the fix", () => {
    writeFileSync(join(dir, "app.conf"), "port=8080\n");
    const clean = drift();
    expect(clean.stderr).toBe("");
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain("conf: clean: nothing would change on 1 target(s)");
    expect(clean.stdout).toContain("no drift branch: nothing to update");
    expect(git(repo.dir, "branch", "--list", BRANCH)).toBe("");

    writeFileSync(join(dir, "app.conf"), "port=1\n");
    const found = drift();
    expect(found.status).toBe(5);
    expect(found.stdout).toContain("conf: drift on 1 of 1 target(s): here");
    expect(found.stdout).toContain("-port=1");
    expect(found.stdout).toContain("+port=8080");
    expect(found.stdout).toMatch(/report: opsconductor\/drift\/conf [0-9a-f]{12} \(not pushed: no-remote\)/);
    // Check mode: the file is as it was.
    expect(readFileSync(join(dir, "app.conf"), "utf8")).toBe("port=1\n");
    const report = JSON.parse(git(repo.dir, "show", `${BRANCH}:drift.json`)) as Record<string, unknown>;
    expect(report).toMatchObject({
      status: "drift",
      targets: [{ name: "here", status: "drift", steps: [{ id: "conf" }], unchecked: ["note"] }],
    });

    const json = drift("--format", "json");
    expect(json.status).toBe(5);
    const out = JSON.parse(json.stdout) as {
      status: string;
      branch: { name: string; commit: string; push: string };
    };
    expect(out.status).toBe("drift");
    expect(out.branch).toMatchObject({ name: BRANCH, push: "no-remote" });
    expect(out.branch.commit).toBe(git(repo.dir, "rev-parse", BRANCH));
    expect(branchLog()).toHaveLength(2);

    expect(opsc(["run", "conf"], { cwd: repo.dir, env }).status).toBe(0);
    const fixed = drift();
    expect(fixed.status).toBe(0);
    expect(branchLog()).toEqual([
      "clean: conf: clean: nothing would change on 1 target(s)",
      "drift: conf: drift on 1 of 1 target(s): here",
      "drift: conf: drift on 1 of 1 target(s): here",
    ]);
    expect(JSON.parse(git(repo.dir, "show", `${BRANCH}:drift.json`))).toMatchObject({ status: "clean" });
  });

  it("exits 1 when a target cannot be checked, and still reports the drift it saw", () => {
    repo.commit({
      "targets/down.yaml": `targets:\n  down: { host: 127.0.0.1, port: 9, user: nobody, host_key: "${hostKey}" }\n`,
      "jobs/conf.yaml": readFileSync(join(repo.dir, "jobs/conf.yaml"), "utf8").replace(
        "names: [here]",
        "names: [here, down]",
      ),
    });
    writeFileSync(join(dir, "app.conf"), "port=2\n");
    const r = drift();
    expect(r.status).toBe(1);
    const report = JSON.parse(git(repo.dir, "show", `${BRANCH}:drift.json`)) as {
      status: string;
      targets: Array<{ name: string; status: string; outcome: string }>;
    };
    expect(report.status).toBe("drift");
    expect(report.targets.map((t) => [t.name, t.status, t.outcome])).toEqual([
      ["down", "error", "unreachable"],
      ["here", "drift", "changed"],
    ]);
  });
});
