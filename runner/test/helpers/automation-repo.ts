/**
 * Small automation repositories for trigger and server tests: as a model
 * (through the real loader) or as a real Git repository built with the git CLI.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { RepoModel } from "../../src/core/repo-model.js";
import { loadRepo } from "../../src/repo/load-repo.js";

export const BASE_FILES: Record<string, string> = {
  "opsconductor.yaml": "name: test\n",
  "targets/local.yaml": "targets:\n  here: { transport: local }\n",
};

/** A job file that runs `run` on the local target, with extra top-level YAML (on:, inputs:...). */
export function jobYaml(extra: string, run = "echo hi"): string {
  return `${extra.trimEnd()}\ntargets: { names: [here] }\nsteps:\n  - id: s\n    run: ${JSON.stringify(run)}\n`;
}

export function modelFrom(files: Record<string, string>): RepoModel {
  const enc = new TextEncoder();
  const all = { ...BASE_FILES, ...files };
  const map = new Map(Object.entries(all).map(([k, v]) => [k, enc.encode(v)] as [string, Uint8Array]));
  const { model, diagnostics } = loadRepo({ files: map });
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`fixture does not load: ${JSON.stringify(errors)}`);
  return model;
}

/** git as a test runs it: a fixed author, no user or system configuration. */
const gitEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
});

export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: dir, encoding: "utf8", env: gitEnv() }).trim();
}

/** git against a server in this process: never execFileSync, which would block the server. */
export async function gitAsync(dir: string, ...args: string[]): Promise<string> {
  const r = await promisify(execFile)("git", args, { cwd: dir, encoding: "utf8", env: gitEnv() });
  return r.stdout.trim();
}

/** A work tree on branch main; `null` deletes a file. */
export class TestRepo {
  readonly dir: string;
  constructor(prefix = "opsc-repo-") {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    git(this.dir, "init", "-q", "-b", "main");
  }

  get gitdir(): string {
    return join(this.dir, ".git");
  }

  commit(files: Record<string, string | null>, message = "change"): string {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) {
        rmSync(full, { force: true });
      } else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git(this.dir, "add", "-A");
    git(this.dir, "commit", "-q", "--allow-empty", "-m", message);
    return git(this.dir, "rev-parse", "HEAD");
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
