/**
 * The one interface the engine knows for reaching a target. A transport owns one
 * connection, reused by every step of a run; each `exec` is one remote process
 * that reads its whole script from stdin, so nothing a user supplies reaches argv.
 */
import type { Shell } from "../core/repo-model.js";
import type { FileState, ReadFileRequest, WriteFileRequest } from "./file-ops.js";

export type { FileState, ReadFileRequest, WriteFileRequest } from "./file-ops.js";

/** How long a timed-out or cancelled step gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2_000;

export interface ExecRequest {
  /** The complete script, written to the remote shell's stdin and then closed. */
  script: string;
  shell: Shell;
  /** Kill the remote process after this long. */
  timeoutMs?: number;
  /** Abort (Ctrl-C, job timeout, max_failures): kill the remote process. */
  signal?: AbortSignal;
  /** The step runs through sudo: stopping it signals through sudo too, with these settings. */
  sudo?: { user?: string; password?: string };
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
}

export interface ExecResult {
  /** null when the process was killed or the channel closed without a status. */
  exitCode: number | null;
  /** Set when the transport killed the process for `timeoutMs`. */
  timedOut: boolean;
  /** Set when the process was killed because `signal` aborted. */
  cancelled: boolean;
}

export interface Transport {
  /** Target name, for messages. */
  readonly name: string;
  /** Opens the connection (SSH: handshake, host key check, authentication). Idempotent. */
  connect(signal?: AbortSignal): Promise<void>;
  exec(request: ExecRequest): Promise<ExecResult>;
  /** A file's hash, mode and owners (and content when asked), for `copy` steps. */
  readFile(request: ReadFileRequest): Promise<FileState>;
  /** Writes a file atomically (temporary file, mode and owners, rename); never through a command line. */
  writeFile(request: WriteFileRequest): Promise<void>;
  /** Closes the connection; safe to call more than once. */
  close(): Promise<void>;
}

/** How a shell is started so that it reads its script from stdin and no rc file runs. */
export function shellCommand(shell: Shell): { command: string; args: string[] } {
  switch (shell) {
    case "sh":
      return { command: "sh", args: ["-s"] };
    case "bash":
      return { command: "bash", args: ["--noprofile", "--norc", "-s"] };
    case "powershell":
      // `-Command -` executes stdin line by line, which breaks multi-line blocks; the
      // first line reads the rest of stdin whole and runs it as one script block.
      return { command: "powershell", args: ["-NoLogo", "-NoProfile", "-NonInteractive", "-Command", "-"] };
  }
}
