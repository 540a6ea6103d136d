/**
 * The examples consume the standard library the way users do: from this
 * project's own repository, pinned in a committed opsconductor.lock. The
 * checkout's own Git repository is served with `git http-backend` on loopback
 * and OPSC_LIBRARY_MIRROR maps the canonical URL (package.json `repository`)
 * to it; validate, plan and run of a copy of examples/config-management then
 * use the library steps of exactly the locked commit.
 *
 * Skipped, saying why, only when this checkout's history lacks the locked
 * commit (a shallow clone): there is nothing to serve it from.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { libraryCacheDir } from "../../src/git/library-cache.js";
import { TestRepo } from "../helpers/automation-repo.js";
import { cleanEnv, opscAsync, PROJECT_ROOT, type CliResult } from "../helpers/opsc-cli.js";
import {
  lockedProjectCommit,
  missingHistory,
  PROJECT_URL,
  serveProjectRepository,
  type ProjectRemote,
} from "../helpers/project-repository.js";

const EXAMPLE = join(PROJECT_ROOT, "examples/config-management");
const LOCKED = lockedProjectCommit(EXAMPLE);
const MISSING = missingHistory(LOCKED);

/** The built CLI, asynchronously: the Git server answers from this process, so it must not block. */
function run(args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  return opscAsync(args, { cwd, env, timeoutMs: 120_000 });
}

/** A library step's file at the locked commit of this project's history. */
function lockedStep(id: string): { run: string; check?: string } {
  const text = execFileSync("git", ["show", `${LOCKED}:library/steps/${id}.yaml`], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
  });
  return parse(text) as { run: string; check?: string };
}

/** A loopback port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(MISSING !== undefined)(
  MISSING === undefined
    ? "examples/config-management with the standard library from this project's repository"
    : `examples/config-management with the standard library: skipped, ${MISSING}`,
  () => {
    let remote: ProjectRemote;
    let repo: TestRepo;
    let cacheDir: string;
    let env: Record<string, string>;

    beforeAll(async () => {
      remote = await serveProjectRepository();
      repo = new TestRepo("opsc-std-example-");
      cpSync(EXAMPLE, repo.dir, { recursive: true });
      repo.commit({}, "examples/config-management as it is");
      cacheDir = mkdtempSync(join(tmpdir(), "opsc-std-cache-"));
      env = cleanEnv(repo.dir, { OPSC_CACHE_DIR: cacheDir, OPSC_ACTOR: "std-test", ...remote.env });
    }, 120_000);

    afterAll(async () => {
      await remote?.close();
      repo?.remove();
      if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    });

    it("validates clean, fetching the locked commit from this project's repository into an empty cache", async () => {
      const r = await run(["validate"], repo.dir, env);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("no problems found\n");
      expect(r.status).toBe(0);
      expect(remote.server.requests()).toBeGreaterThan(0);
      // The cache entry is the canonical URL's, whatever served it.
      expect(existsSync(join(libraryCacheDir(PROJECT_URL, { OPSC_CACHE_DIR: cacheDir }), "HEAD"))).toBe(true);

      const list = await run(["libraries", "list", "--format", "json"], repo.dir, env);
      expect(JSON.parse(list.stdout)).toMatchObject([
        { name: "std", url: PROJECT_URL, ref: "main", path: "library", commit: LOCKED, stale: false },
      ]);
    }, 180_000);

    it("plans the example's jobs with the library steps of the locked commit", async () => {
      const before = remote.server.requests();
      const steps: Array<{ id: string; uses?: string; run: string; check?: string }> = [];
      for (const job of ["baseline", "web"]) {
        const r = await run(["plan", job, "--format", "json"], repo.dir, env);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const plan = JSON.parse(r.stdout) as { phases: Array<{ steps: typeof steps }> };
        steps.push(...plan.phases.flatMap((p) => p.steps));
      }
      const used = steps.filter((s) => s.uses?.startsWith("std/"));
      expect(new Set(used.map((s) => s.uses))).toEqual(
        new Set([
          "std/apt/install",
          "std/group",
          "std/user",
          "std/file/line",
          "std/sysctl",
          "std/service/state",
          "std/directory",
        ]),
      );
      for (const s of used) {
        const file = lockedStep(s.uses!.slice("std/".length));
        expect(s.run, s.uses).toBe(file.run);
        expect(s.check, s.uses).toBe(file.check);
      }
      // Read from the cache: a locked commit already there needs no network.
      expect(remote.server.requests()).toBe(before);
    });

    it("runs a standard library step from the locked commit on the local target: changed, then ok", async () => {
      const dir = mkdtempSync(join(tmpdir(), "opsc-std-run-"));
      try {
        const file = join(dir, "app.conf");
        writeFileSync(file, "name=demo\n#managed-by=nobody\n");
        repo.commit({
          "targets/runner.yaml": "targets:\n  runner: { transport: local }\n",
          // The library's file/line with sudo off: harmless on the machine running the test.
          "jobs/local-line.yaml": [
            "targets: { names: [runner] }",
            "steps:",
            "  - id: line",
            "    uses: std/file/line",
            "    sudo: false",
            `    with: { path: "${file}", line: "managed-by=opsconductor", regexp: "^#?managed-by=" }`,
            "",
          ].join("\n"),
        });
        const first = await run(["run", "local-line", "--no-push", "--output"], repo.dir, env);
        expect(first.stderr).toBe("");
        expect(first.status).toBe(0);
        expect(first.stdout).toMatch(/runner line: changed/);
        expect(readFileSync(file, "utf8")).toBe("name=demo\nmanaged-by=opsconductor\n");
        // The library's check script found it done.
        const second = await run(["run", "local-line", "--no-push", "--output"], repo.dir, env);
        expect(second.status).toBe(0);
        expect(second.stdout).toMatch(/runner line: ok/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("the committed lock is what `opsc libraries update` writes for that commit", async () => {
      // A server whose main is the locked commit: the update pins it again and must write the same bytes.
      const atLock = await serveProjectRepository(LOCKED);
      try {
        const lockFile = join(repo.dir, "opsconductor.lock");
        const committed = readFileSync(lockFile, "utf8");
        const r = await run(["libraries", "update"], repo.dir, { ...env, ...atLock.env });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(readFileSync(lockFile, "utf8")).toBe(committed);
      } finally {
        await atLock.close();
      }
    });

    it("not cached and not reachable: an error naming the library, its URL and what to do", async () => {
      const empty = mkdtempSync(join(tmpdir(), "opsc-std-empty-"));
      try {
        const down = `http://127.0.0.1:${await closedPort()}/opsconductor.git`;
        const r = await run(["validate"], repo.dir, {
          ...env,
          OPSC_CACHE_DIR: empty,
          OPSC_LIBRARY_MIRROR: `${PROJECT_URL}=${down}`,
        });
        expect(r.status).toBe(4);
        expect(r.stderr).toMatch(
          /^opsc: opsconductor\.lock:\d+:\d+: error\[library\.unreachable\]: library "std"/,
        );
        expect(r.stderr).toContain(LOCKED.slice(0, 12));
        expect(r.stderr).toContain(PROJECT_URL);
        expect(r.stderr).toContain(down);
        expect(r.stderr).toMatch(/hint: .*OPSC_LIBRARY_MIRROR/);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });
  },
);
