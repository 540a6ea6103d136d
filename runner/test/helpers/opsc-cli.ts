/** Runs the built CLI (`node runner/bin/opsc.js`) the way a user does, with a controlled environment. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * The shared SOPS vectors live next to the project, in ../shared (relative to the
 * project root); tests that need them skip when it is absent. Never copied in.
 */
export const VECTORS = join(PROJECT_ROOT, "../shared/vectors/sops");
export const HAVE_VECTORS = existsSync(join(VECTORS, "EXPECTED.json"));

/** Whether the real `age` CLI (Debian package `age`) is installed. */
export const HAVE_AGE = spawnSync("age", ["--version"]).status === 0;

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Environment without the caller's identities, so only what a test sets is used. */
export function cleanEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
  };
  return { ...env, ...extra };
}

export function opsc(
  args: string[],
  options: { cwd: string; env: Record<string, string>; input?: string },
): CliResult {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args], {
    cwd: options.cwd,
    env: options.env,
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The CLI as a child process without blocking this one: for tests that serve
 * something to it (a Git server, a webhook receiver) from this process.
 */
export function opscAsync(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, "runner/bin/opsc.js"), ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 90_000,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
