/**
 * `opsc serve` as a process, serving a repository whose credentials file is an
 * alias bomb: unsigned hook calls decrypt nothing, the server keeps answering.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { ALIAS_BOMB } from "../helpers/hostile-yaml.js";
import { cleanEnv, opsc } from "../helpers/opsc-cli.js";
import { startServe } from "../helpers/serve-process.js";

const dirs: string[] = [];
const procs: ChildProcess[] = [];
const repo = new TestRepo();
let remote: GitHttpServer;
let home: string;

beforeAll(async () => {
  remote = await startGitHttpServer();
  repo.commit({
    ...BASE_FILES,
    "jobs/deploy.yaml": jobYaml(`on:\n  webhook: { types: [deploy], secret: hooks/deploy.secret }`),
    "credentials/hooks.sops.yaml": `${ALIAS_BOMB}\ndeploy:\n  secret: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n  version: 3.10.2\n`,
  });
  execFileSync("git", ["-C", repo.dir, "push", "-q", "--force", remote.bareDir, "main"]);
  execFileSync("git", ["-C", remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);
  // An age identity, so that nothing but the limits stands between a request and the decryption.
  home = mkdtempSync(join(tmpdir(), "opsc-home-"));
  dirs.push(home);
  expect(opsc(["secrets", "keygen"], { cwd: home, env: cleanEnv(home) }).status).toBe(0);
});

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  await remote.close();
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("an alias bomb in the served repository", () => {
  it("unsigned hook calls get 401 at once, decrypt nothing, and /healthz keeps answering", async () => {
    const state = mkdtempSync(join(tmpdir(), "opsc-state-"));
    dirs.push(state);
    const s = await startServe(["--repo", remote.url, "--state", state], {
      ...cleanEnv(home),
      OPSC_WEBHOOK_SECRET: "bomb-test-webhook-secret",
      OPSC_LOG_LEVEL: "info",
    });
    procs.push(s.proc);
    const calls = Array.from({ length: 3 }, () =>
      fetch(`${s.url}/hooks/deploy`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(20_000),
      }),
    );
    const health = await fetch(`${s.url}/healthz`, { signal: AbortSignal.timeout(20_000) });
    expect(health.status).toBe(200);
    for (const res of await Promise.all(calls)) expect(res.status).toBe(401);
    const lines = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const refused = lines.filter((l) => l.msg === "hook refused");
    expect(refused).toHaveLength(3);
    expect(String(refused[0]?.reason)).toMatch(/does not validate/);
    const invalid = lines.find((l) => String(l.msg).includes("does not validate"));
    expect(JSON.stringify(invalid)).toContain("yaml.alias-limit");
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
  });
});
