/**
 * Runs steps on the runner's own machine as child processes. Each exec is its own
 * process group, so a timeout kills the step and everything it started.
 */
import { KILL_GRACE_MS } from "./transport.js";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { readFileOverExec, writeFileOverExec } from "./file-ops.js";
import type { Shell } from "../core/repo-model.js";
import type {
  ExecRequest,
  ExecResult,
  FileState,
  ReadFileRequest,
  Transport,
  WriteFileRequest,
} from "./transport.js";
import { shellCommand } from "./transport.js";

/** Variables a local step inherits; the runner's own environment (tokens, age keys) stays out. */
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "TZ",
  "SystemRoot",
  "TEMP",
  "TMP",
];

/** Grace between SIGTERM and SIGKILL. */

export class LocalTransport implements Transport {
  constructor(
    readonly name: string,
    private readonly options: {
      env?: NodeJS.ProcessEnv;
      shellOverride?: Partial<Record<Shell, string>>;
    } = {},
  ) {}

  async connect(): Promise<void> {}

  exec(req: ExecRequest): Promise<ExecResult> {
    const { command, args } = shellCommand(req.shell);
    const env: NodeJS.ProcessEnv = {};
    const source = this.options.env ?? process.env;
    for (const k of INHERITED_ENV) if (source[k] !== undefined) env[k] = source[k];
    const child = spawn(this.options.shellOverride?.[req.shell] ?? command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      detached: process.platform !== "win32",
      env,
    });
    return new Promise<ExecResult>((resolve) => {
      let timedOut = false;
      let cancelled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const kill = (): void => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        signalGroup(child.pid, "SIGTERM");
        killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
      };
      const timer =
        req.timeoutMs !== undefined
          ? setTimeout(() => {
              timedOut = true;
              kill();
            }, req.timeoutMs)
          : undefined;
      const onAbort = (): void => {
        cancelled = true;
        kill();
      };
      if (req.signal?.aborted) onAbort();
      req.signal?.addEventListener("abort", onAbort, { once: true });
      child.stdout.on("data", (b: Buffer) => req.onStdout(b));
      child.stderr.on("data", (b: Buffer) => req.onStderr(b));
      child.stdin.on("error", () => {
        // The script may exit before reading all of stdin; its exit status says what happened.
      });
      let spawnError: Error | undefined;
      child.on("error", (e) => {
        spawnError = e;
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        req.signal?.removeEventListener("abort", onAbort);
        if (spawnError) req.onStderr(Buffer.from(`opsc: cannot start ${command}: ${spawnError.message}\n`));
        // The group may still hold background children of a killed step.
        if (timedOut || cancelled) signalGroup(child.pid, "SIGKILL");
        resolve({ exitCode: spawnError ? 127 : code, timedOut, cancelled: cancelled && !timedOut });
      });
      child.stdin.end(req.script);
    });
  }

  /**
   * With node:fs as the runner's own user; through sudo (or to set owners, which
   * need user names resolved) the same script as over SSH.
   */
  async readFile(req: ReadFileRequest): Promise<FileState> {
    if (req.sudo || req.withOwners) return readFileOverExec((r) => this.exec(r), this.name, req);
    let info;
    try {
      info = await stat(req.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { exists: false };
      throw e;
    }
    if (!info.isFile()) throw new Error(`${req.path} exists and is not a regular file`);
    const content = await readFile(req.path);
    return {
      exists: true,
      sha256: createHash("sha256").update(content).digest("hex"),
      mode: (info.mode & 0o7777).toString(8),
      owner: { name: String(info.uid), id: String(info.uid) },
      group: { name: String(info.gid), id: String(info.gid) },
      ...(req.withContent ? { content } : {}),
    };
  }

  async writeFile(req: WriteFileRequest): Promise<void> {
    if (req.sudo || req.owner !== undefined || req.group !== undefined)
      return writeFileOverExec((r) => this.exec(r), this.name, req);
    const dir = dirname(req.path);
    await mkdir(dir, { recursive: true });
    let mode = req.mode !== undefined ? parseInt(req.mode, 8) : 0o644;
    if (req.mode === undefined) {
      try {
        mode = (await stat(req.path)).mode & 0o7777;
      } catch {
        // A new file.
      }
    }
    const tmp = join(dir, `.${basename(req.path)}.opsc-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(tmp, req.content, { flag: "wx", mode });
      await chmod(tmp, mode);
      await rename(tmp, req.path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async close(): Promise<void> {}
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === "win32" ? pid : -pid, signal);
  } catch {
    // Already gone.
  }
}
