/**
 * A step on the `local` target of `opsc serve` runs as the server's user: it
 * can read the server's initial environment in /proc/$PPID/environ and its age
 * identity file. Whatever it prints of them, the server's secrets are masked
 * in the pushed record and in the server's output, and they are not in the
 * step's own environment.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as age from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { RECORDS, remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";

// Planted markers, not real secrets.
const WEBHOOK = "canary-webhook-secret-5b1e07";
const API = "canary-api-token-c4d2a9";
const GIT_TOKEN = "canary-git-token-77f0e3";

const SPY = [
  "echo PARENT-ENV",
  "tr '\\0' '\\n' < /proc/$PPID/environ",
  "echo OWN-ENV",
  "env",
  "echo KEY-FILE",
  `f=$(tr '\\0' '\\n' < /proc/$PPID/environ | sed -n 's/^SOPS_AGE_KEY_FILE=//p')`,
  'cat "$f"',
  'cat "$SOPS_AGE_KEY_FILE" 2>&1 || true',
].join("\n");

let remote: GitHttpServer;
let serve: ServeProcess | undefined;
let identity: string;
const repo = new TestRepo();
const dirs: string[] = [];

beforeAll(async () => {
  remote = await startGitHttpServer();
  repo.commit({ ...BASE_FILES, "jobs/spy.yaml": jobYaml("on:\n  manual: true", SPY) });
  execFileSync("git", ["-C", repo.dir, "push", "-q", "--force", remote.bareDir, "main"]);
  execFileSync("git", ["-C", remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);
  identity = await age.generateX25519Identity();
});

afterAll(async () => {
  if (serve?.proc.exitCode === null) serve.proc.kill("SIGKILL");
  await remote.close();
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the server's own secrets and a local step that goes looking for them", () => {
  it("are masked in the pushed record and the server's output, and not in the step's environment", async () => {
    const home = mkdtempSync(join(tmpdir(), "opsc-home-"));
    dirs.push(home);
    const keyFile = join(home, "server-age.txt");
    writeFileSync(keyFile, `# created: 2026-01-01T00:00:00Z\n${identity}\n`, { mode: 0o600 });
    serve = await startServe(["--repo", remote.url, "--state", join(home, "state")], {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      OPSC_WEBHOOK_SECRET: WEBHOOK,
      OPSC_API_TOKEN: API,
      OPSC_GIT_TOKEN: GIT_TOKEN,
      SOPS_AGE_KEY_FILE: keyFile,
    });
    let serverStderr = "";
    serve.proc.stderr!.on("data", (c: Buffer) => (serverStderr += String(c)));
    const res = await fetch(`${serve.url}/api/jobs/spy/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${API}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(202);
    await eventually(() => remoteRuns(remote).some((r) => r.job === "spy"), 30_000);
    serve.proc.kill("SIGTERM");
    await serve.exited;

    const files = execFileSync("git", ["-C", remote.bareDir, "ls-tree", "-r", "--name-only", RECORDS], {
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    let record = "";
    for (const f of files)
      record += execFileSync("git", ["-C", remote.bareDir, "show", `${RECORDS}:${f}`], { encoding: "utf8" });
    const log = files.find((f) => f.endsWith("/targets/here.log"))!;
    const stepLog = execFileSync("git", ["-C", remote.bareDir, "show", `${RECORDS}:${log}`], {
      encoding: "utf8",
    });
    // The step really got at them: the parent's environment and the key file, masked.
    expect(stepLog).toContain(`OPSC_API_TOKEN=***`);
    expect(stepLog).toContain(`OPSC_WEBHOOK_SECRET=***`);
    expect(stepLog).toContain(`OPSC_GIT_TOKEN=***`);
    expect(stepLog).toMatch(/KEY-FILE\n# created: 2026-01-01T00:00:00Z\n\*\*\*\n/);
    // Its own environment holds none of them, nor where the identity is.
    const ownEnv = stepLog.slice(stepLog.indexOf("OWN-ENV"), stepLog.indexOf("KEY-FILE"));
    expect(ownEnv).not.toMatch(/OPSC_API_TOKEN|OPSC_WEBHOOK_SECRET|OPSC_GIT_TOKEN|SOPS_AGE_KEY_FILE/);

    const output = serve.lines.join("\n") + serverStderr;
    for (const value of [WEBHOOK, API, GIT_TOKEN, identity]) {
      expect(record.includes(value), "a server secret in the record").toBe(false);
      expect(output.includes(value), "a server secret in the server's output").toBe(false);
    }
    for (const line of serve.lines) JSON.parse(line);
  });
});
