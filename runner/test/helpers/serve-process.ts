/**
 * `opsc serve` as a child process, the way an operator starts it, and the
 * records its runs leave on a loopback Git remote. Async spawn only: a
 * synchronous one would block the in-process Git server the child talks to.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { GitHttpServer } from "./git-http-server.js";
import { PROJECT_ROOT } from "./opsc-cli.js";

export const OPSC = join(PROJECT_ROOT, "runner/bin/opsc.js");
export const RECORDS = "opsconductor/runs";

export interface ServeProcess {
  url: string;
  proc: ChildProcess;
  /** stdout lines (pino JSON), as they arrive. */
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts `opsc serve --port 0 ARGS` and resolves once it listens. */
export async function startServe(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [OPSC, "serve", "--port", "0", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let stderr = "";
  proc.stderr!.on("data", (c: Buffer) => (stderr += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = "";
    proc.stdout!.on("data", (c: Buffer) => {
      buf += String(c);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        const o = JSON.parse(line) as { msg?: string; port?: number };
        // Logged after the schedules are registered, so a tick from here on is owed.
        if (o.msg === "runner listening" && o.port) resolve(o.port);
      }
    });
    void exited.then((code) => reject(new Error(`opsc serve exited with ${code}: ${stderr}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc, lines, exited };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

/** run.json of every record on the remote's records branch (none before the first push). */
export function remoteRuns(remote: GitHttpServer): Array<Record<string, unknown>> {
  let files: string[];
  try {
    files = git(remote.bareDir, "ls-tree", "-r", "--name-only", RECORDS).split("\n");
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith("/run.json"))
    .map((f) => JSON.parse(git(remote.bareDir, "show", `${RECORDS}:${f}`)) as Record<string, unknown>);
}
