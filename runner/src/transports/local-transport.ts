/**
 * Runs steps on the runner's own machine as child processes. Each exec is its own
 * process group, so a timeout kills the step and everything it started.
 */
import { KILL_GRACE_MS } from "./transport.js";
import { spawn } from "node:child_process";
import type { Shell } from "../core/repo-model.js";
import type { ExecRequest, ExecResult, Transport } from "./transport.js";
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
