/**
 * Step libraries end to end: a library repository served by a real
 * `git http-backend` on loopback, an automation repository that uses one of
 * its steps, and the built CLI. What runs is what the lock pins, whatever the
 * library's tag says later; the cache serves runs without the network and is
 * fetched again when damaged.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git, TestRepo } from "../helpers/automation-repo.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { cleanEnv, opscAsync, type CliResult } from "../helpers/opsc-cli.js";

let server: GitHttpServer;
let lib: TestRepo;
let repo: TestRepo;
let cacheDir: string;
let env: Record<string, string>;

const greet = (word: string): string =>
  ["description: Greets", "inputs: { who: { type: string } }", `run: echo "${word} $INPUT_WHO"`, ""].join(
    "\n",
  );

/** Commits to the library and moves tag v1 to that commit, pushing straight into the served bare repository. */
function publish(files: Record<string, string>): string {
  const commit = lib.commit(files, "library change");
  git(lib.dir, "tag", "-f", "-a", "v1", "-m", "v1");
  git(lib.dir, "push", "-q", "-f", server.bareDir, "HEAD:refs/heads/main", "refs/tags/v1");
  return commit;
}

/** The built CLI, asynchronously: the Git server answers from this process, so it must not block. */
function run(args: string[], cwd = repo.dir, runEnv = env): Promise<CliResult> {
  return opscAsync(args, { cwd, env: runEnv, timeoutMs: 30_000 });
}

interface Lock {
  libraries: Record<string, { commit: string; steps_hash: string }>;
}
function lock(): Lock {
  return JSON.parse(readFileSync(join(repo.dir, "opsconductor.lock"), "utf8")) as Lock;
}

let v1: string;

beforeAll(async () => {
  server = await startGitHttpServer();
  lib = new TestRepo("opsc-lib-src-");
  v1 = publish({
    "library/steps/greet.yaml": greet("hello-v1"),
    // A library step using another step of the same library, named as in its own repository.
    "library/steps/greet-twice.yaml": [
      "inputs: { who: { type: string } }",
      "steps:",
      "  - uses: greet",
      "    with: { who: '${{ inputs.who }}' }",
      "",
    ].join("\n"),
  });
  repo = new TestRepo("opsc-lib-use-");
  cacheDir = mkdtempSync(join(tmpdir(), "opsc-lib-cache-"));
  env = cleanEnv(repo.dir, { OPSC_CACHE_DIR: cacheDir, OPSC_ACTOR: "lib-test" });
  repo.commit({
    "opsconductor.yaml": [
      "name: uses-libraries",
      "records: { push: false }",
      "libraries:",
      `  std: { url: "${server.url}", ref: v1, path: library }`,
      "",
    ].join("\n"),
    "targets/local.yaml": "targets:\n  here: { transport: local }\n",
    "jobs/hello.yaml": [
      "targets: { names: [here] }",
      "steps:",
      "  - id: greet",
      "    uses: std/greet-twice",
      "    with: { who: world }",
      "",
    ].join("\n"),
  });
});

afterAll(async () => {
  await server?.close();
  lib?.remove();
  repo?.remove();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

describe("a job using a library step", () => {
  it("is refused until the library is locked, with what to do", async () => {
    const r = await run(["validate"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("library.not-locked");
    expect(r.stdout).toContain("opsc libraries update std");
    // The job's `uses: std/...` is not reported again: the reason is the missing lock.
    expect(r.stdout).not.toContain("ref.unknown-step");
  });

  it("`libraries update` pins the tag's commit; validate, plan and run use it", async () => {
    const u = await run(["libraries", "update"]);
    expect(u.stderr).toBe("");
    expect(u.status).toBe(0);
    expect(lock().libraries.std!.commit).toBe(v1);
    expect(lock().libraries.std!.steps_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    repo.commit({}, "lock std");

    const list = await run(["libraries", "list", "--format", "json"]);
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: "std", ref: "v1", commit: v1, ageDays: 0 }]);

    expect((await run(["validate"])).status).toBe(0);
    const plan = await run(["plan", "hello", "--format", "json"]);
    expect(plan.stderr).toBe("");
    expect(plan.status).toBe(0);
    expect(plan.stdout).toContain("hello-v1");
    const r = await run(["run", "hello", "--output"]);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toContain("hello-v1 world");
  });

  it("keeps running the locked commit after the tag moves, with no network once cached", async () => {
    publish({ "library/steps/greet.yaml": greet("hello-v2") });
    const before = server.requests();
    const r = await run(["run", "hello", "--output"]);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toContain("hello-v1 world");
    expect(r.stdout + r.stderr).not.toContain("hello-v2");
    expect(server.requests()).toBe(before);
  });

  it("runs from the cache with the remote down", async () => {
    const away = `${server.bareDir}.away`;
    renameSync(server.bareDir, away);
    try {
      const r = await run(["run", "hello", "--output"]);
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).toContain("hello-v1 world");
    } finally {
      renameSync(away, server.bareDir);
    }
  });

  it("detects a damaged cache entry and fetches it again", async () => {
    const [entry] = readdirSync(join(cacheDir, "libraries"));
    const packDir = join(cacheDir, "libraries", entry!, "objects", "pack");
    const packs = readdirSync(packDir).filter((f) => f.endsWith(".pack"));
    expect(packs.length).toBeGreaterThan(0);
    for (const p of packs) {
      const file = join(packDir, p);
      const bytes = readFileSync(file);
      // Keep the header, garble the objects.
      bytes.fill(0x5a, 12);
      writeFileSync(file, bytes);
    }
    const before = server.requests();
    const r = await run(["run", "hello", "--output"]);
    expect(r.stderr).not.toContain("at ");
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toContain("hello-v1 world");
    expect(server.requests()).toBeGreaterThan(before);
  });

  it("`libraries update` moves the lock and `opsc diff` shows the script change", async () => {
    const u = await run(["libraries", "update", "std"]);
    expect(u.status).toBe(0);
    expect(u.stdout).toContain(`std: v1 ${v1.slice(0, 12)} -> `);
    const moved = lock().libraries.std!.commit;
    expect(moved).not.toBe(v1);
    repo.commit({}, "update std");

    const d = await run(["diff", "HEAD~1", "HEAD"]);
    expect(d.status).toBe(0);
    expect(d.stdout).toContain(
      `### Library \`std\` (changed): v1 \`${v1.slice(0, 12)}\` → v1 \`${moved.slice(0, 12)}\``,
    );
    expect(d.stdout).toContain("`std/greet`");
    expect(d.stdout).toContain('-echo "hello-v1 $INPUT_WHO"');
    expect(d.stdout).toContain('+echo "hello-v2 $INPUT_WHO"');
    const json = JSON.parse((await run(["diff", "HEAD~1", "HEAD", "--format", "json"])).stdout) as {
      libraries: Array<{ name: string; steps: Array<{ id: string; change: string }> }>;
    };
    expect(json.libraries).toEqual([
      expect.objectContaining({
        name: "std",
        steps: [expect.objectContaining({ id: "std/greet", change: "changed" })],
      }),
    ]);

    const r = await run(["run", "hello", "--output"]);
    expect(r.stdout + r.stderr).toContain("hello-v2 world");
  });

  it("fails validate on a lock naming a commit the library does not have", async () => {
    const text = readFileSync(join(repo.dir, "opsconductor.lock"), "utf8");
    const missing = "0123456789abcdef0123456789abcdef01234567";
    writeFileSync(join(repo.dir, "opsconductor.lock"), text.replace(lock().libraries.std!.commit, missing));
    const r = await run(["validate"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("library.commit-missing");
    expect(r.stdout).toContain(missing);
    expect(r.stdout).toMatch(/opsconductor\.lock:\d+:\d+/);
    expect(r.stdout).not.toContain("ref.unknown-step");
    const p = await run(["run", "hello", "--output"]);
    expect(p.status).toBe(3);
    expect(p.stdout + p.stderr).not.toContain("hello-v");
    writeFileSync(join(repo.dir, "opsconductor.lock"), text);
  });

  it("refuses content that does not match the lock's hash", async () => {
    const text = readFileSync(join(repo.dir, "opsconductor.lock"), "utf8");
    writeFileSync(
      join(repo.dir, "opsconductor.lock"),
      text.replace(lock().libraries.std!.steps_hash, `sha256:${"0".repeat(64)}`),
    );
    const r = await run(["validate"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("library.hash-mismatch");
    writeFileSync(join(repo.dir, "opsconductor.lock"), text);
    expect((await run(["validate"])).status).toBe(0);
  });
});

// Guard for the helper above: the served repository really moved its tag.
it("the served library's tag names the newest commit", async () => {
  const { stdout: out } = await promisify(execFile)("git", ["ls-remote", server.url, "refs/tags/v1^{}"]);
  expect(out.split("\t")[0]).toBe(git(lib.dir, "rev-parse", "HEAD"));
});

describe("a private library", () => {
  it("authenticates with OPSC_GIT_TOKEN, and the token appears in no output or file", async () => {
    const TOKEN = "lib-token-5f1e2d3c9a";
    const priv = await startGitHttpServer({ token: TOKEN });
    const user = new TestRepo("opsc-lib-private-");
    const cache = mkdtempSync(join(tmpdir(), "opsc-lib-cache-"));
    try {
      git(lib.dir, "push", "-q", "-f", priv.bareDir, "HEAD:refs/heads/main", "refs/tags/v1");
      user.commit({ "opsconductor.yaml": "records: { push: false }\n" }, "before libraries");
      user.commit({
        "opsconductor.yaml": `records: { push: false }\nlibraries:\n  team: { url: "${priv.url}", ref: main, path: library }\n`,
        "targets/local.yaml": "targets:\n  here: { transport: local }\n",
        "jobs/hi.yaml": "targets: { names: [here] }\nsteps:\n  - uses: team/greet\n    with: { who: team }\n",
      });
      const base = cleanEnv(user.dir, { OPSC_CACHE_DIR: cache, OPSC_ACTOR: "lib-test" });
      const refused = await run(["libraries", "update"], user.dir, base);
      expect(refused.status).toBe(4);
      expect(refused.stderr).toContain("OPSC_GIT_TOKEN");

      const withToken = { ...base, OPSC_GIT_TOKEN: TOKEN };
      const outputs = [await run(["libraries", "update"], user.dir, withToken)];
      user.commit({}, "lock team");
      outputs.push(await run(["libraries", "list"], user.dir, withToken));
      outputs.push(await run(["run", "hi", "--output"], user.dir, withToken));
      expect(
        outputs.map((o) => o.status),
        outputs.map((o) => o.stderr).join("\n"),
      ).toEqual([0, 0, 0]);
      expect(outputs[2]!.stdout).toMatch(/hello-v\d team/);
      for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(TOKEN);
      expect(readFileSync(join(user.dir, "opsconductor.lock"), "utf8")).not.toContain(TOKEN);
      const { stdout: config } = await promisify(execFile)("sh", ["-c", `cat "${cache}"/libraries/*/config`]);
      expect(config).not.toContain(TOKEN);

      // Reviewing a change that introduces the library: its URL came with the change, so no token goes to it.
      rmSync(join(cache, "libraries"), { recursive: true, force: true });
      const review = await run(["diff", "HEAD~2", "HEAD"], user.dir, withToken);
      expect(review.status).toBe(4);
      expect(review.stderr).toContain("refused access");
      expect(review.stdout + review.stderr).not.toContain(TOKEN);
    } finally {
      await priv.close();
      user.remove();
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
