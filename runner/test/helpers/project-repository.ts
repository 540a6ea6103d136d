/**
 * This project's own Git repository as the standard library's remote. The
 * examples pin `std` to this project's canonical URL (package.json
 * `repository`), which tests never reach: the repository of the checkout the
 * tests run in is served with `git http-backend` on loopback instead, and
 * OPSC_LIBRARY_MIRROR maps the canonical URL to it, as an air-gapped site maps
 * it to its mirror. The lock, the commit and the steps hash stay the real ones.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGitHttpServer, type GitHttpServer } from "./git-http-server.js";
import { PROJECT_ROOT } from "./opsc-cli.js";

/** The canonical URL of this project's repository, from package.json `repository`. */
export const PROJECT_URL = ((): string => {
  const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
    repository?: { url?: string } | string;
  };
  const url = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  if (!url) throw new Error("package.json has no repository URL");
  return url.replace(/^git\+/, "");
})();

interface LockFile {
  libraries: Record<string, { url: string; commit: string; steps_hash: string; path: string }>;
}

/** The commit an example's opsconductor.lock pins this project's repository to. */
export function lockedProjectCommit(exampleDir: string): string {
  const lock = JSON.parse(fs.readFileSync(path.join(exampleDir, "opsconductor.lock"), "utf8")) as LockFile;
  const entry = Object.values(lock.libraries).find((e) => e.url === PROJECT_URL);
  if (!entry) throw new Error(`${exampleDir}/opsconductor.lock pins nothing from ${PROJECT_URL}`);
  return entry.commit;
}

function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: PROJECT_ROOT, encoding: "utf8", stdio: "pipe" }).trim();
}

/** The checkout's git dir shared by all its worktrees (`.git` of the main checkout in a worktree). */
export function projectGitDir(): string {
  return path.resolve(PROJECT_ROOT, git("rev-parse", "--git-common-dir"));
}

/**
 * Why the checkout cannot serve `commit` with its history (a shallow clone, or
 * a copy without that commit), for a test's skip message; undefined when it can.
 */
export function missingHistory(commit: string): string | undefined {
  try {
    if (git("rev-parse", "--is-shallow-repository") === "true") {
      return `this checkout is a shallow clone, so it cannot serve the history of ${commit} (run \`git fetch --unshallow\`)`;
    }
    git("cat-file", "-e", `${commit}^{commit}`);
    return undefined;
  } catch {
    return `this checkout's Git history has no commit ${commit} (the examples' opsconductor.lock pins it)`;
  }
}

export interface ProjectRemote {
  server: GitHttpServer;
  /** OPSC_LIBRARY_MIRROR mapping the canonical URL to the loopback server. */
  env: { OPSC_LIBRARY_MIRROR: string };
  close(): Promise<void>;
}

/**
 * Serves this checkout's repository on loopback with one branch, `main`, at
 * `main` (default: the checkout's HEAD). The served repository is a bare one
 * borrowing the checkout's objects (objects/info/alternates), so the other
 * refs of a developer's clone (worktrees, stashes, remotes) are not offered.
 */
export async function serveProjectRepository(main = git("rev-parse", "HEAD")): Promise<ProjectRemote> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "opsc-project-repo-"));
  const bare = path.join(root, "opsconductor.git");
  execFileSync("git", ["init", "--quiet", "--bare", bare]);
  fs.writeFileSync(path.join(bare, "objects/info/alternates"), `${path.join(projectGitDir(), "objects")}\n`);
  execFileSync("git", ["-C", bare, "update-ref", "refs/heads/main", main]);
  execFileSync("git", ["-C", bare, "symbolic-ref", "HEAD", "refs/heads/main"]);
  const server = await startGitHttpServer({ root, existing: "opsconductor.git" });
  return {
    server,
    env: { OPSC_LIBRARY_MIRROR: `${PROJECT_URL}=${server.url}` },
    close: async () => {
      await server.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
