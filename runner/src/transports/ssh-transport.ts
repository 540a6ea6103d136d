/**
 * SSH through ssh2: one connection per target, reused by every step; one exec
 * channel per step, closed when the step ends. The host key is checked against
 * the pinned keys inside the key exchange (ssh2 `hostVerifier`), before any
 * authentication method is tried.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { AuthenticationType, Client, ClientChannel, ParsedKey } from "ssh2";
import { environmentError, userError, type OpscError } from "../core/errors.js";
import type { Shell } from "../core/repo-model.js";
import { HandshakeLimiter } from "./handshake-limiter.js";
import { buildRemoteKillScript } from "./remote-kill.js";
import { fingerprint, hostKeyAlgorithms, keyType, parsePinnedKey, type PinnedKey } from "./host-key.js";
import { readFileOverExec, writeFileOverExec } from "./file-ops.js";
import type {
  ExecRequest,
  ExecResult,
  FileState,
  ReadFileRequest,
  Transport,
  WriteFileRequest,
} from "./transport.js";
import { KILL_GRACE_MS, shellCommand } from "./transport.js";

export interface SshAuth {
  /** Parsed once per run (parsing and decrypting a key is slow), shared by every target using it. */
  privateKey?: ParsedKey;
  password?: string;
  /** Path of an ssh-agent socket (usually $SSH_AUTH_SOCK). */
  agent?: string;
}

export interface SshTransportOptions {
  name: string;
  host: string;
  port: number;
  user: string;
  hostKeys: string[];
  /** Credentials, or a function resolving them at connect time (decrypting only what is used). */
  auth: SshAuth | (() => Promise<SshAuth>);
  /** Connect through this (already configured) transport, as ProxyJump. */
  jump?: SshTransport;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  limiter?: HandshakeLimiter;
  /** Grace between SIGTERM and SIGKILL when a step times out. */
  killGraceMs?: number;
}

const sharedLimiter = new HandshakeLimiter(10);

/** How long a polite disconnect may take before the connection is just dropped. */
const END_WAIT_MS = 2_000;

/**
 * Ends a connection and waits until it is closed. A target behind a jump host
 * talks through the jump host's connection: closing that one first would cut
 * the target's goodbye off mid-way.
 */
function endClient(client: Client | null): Promise<void> {
  if (!client) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      client.destroy();
      resolve();
    }, END_WAIT_MS);
    timer.unref();
    client.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    client.end();
  });
}

/** Starts loading ssh2 for a run that will connect, while it waits for something else. */
export function preloadSsh(): void {
  void import("ssh2").catch(() => undefined);
}

export class SshTransport implements Transport {
  readonly name: string;
  private client: Client | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  /** The handshake finished once; with no client now, the connection was lost since. */
  private ready = false;
  /** Targets currently tunnelling through this connection (when it is a jump host). */
  private tunnels = 0;
  private holdsJump = false;
  private readonly pinned: PinnedKey[];

  constructor(private readonly opts: SshTransportOptions) {
    this.name = opts.name;
    this.pinned = opts.hostKeys.map((k) => parsePinnedKey(k)).filter((k): k is PinnedKey => k !== null);
  }

  /** Connected, and the connection has closed since without close() (the server dropped it). */
  get dropped(): boolean {
    return this.ready && this.client === null && !this.closed;
  }

  connect(signal?: AbortSignal): Promise<void> {
    this.connecting ??= (async () => {
      // The jump host first, outside our handshake slot: targets holding every
      // slot while waiting for their jump host would otherwise deadlock.
      // Credentials are fetched (decrypted) while this waits for its jump host and its
      // handshake slot, not after; a failure is reported by the handshake. A target
      // that cannot be trusted (no pinned key) never gets as far as decrypting.
      const auth = this.opts.auth;
      const creds =
        this.pinned.length === 0
          ? Promise.resolve({})
          : typeof auth === "function"
            ? auth()
            : Promise.resolve(auth);
      creds.catch(() => undefined);
      const jump = this.opts.jump;
      if (jump) {
        if (!this.holdsJump) {
          jump.tunnels++;
          this.holdsJump = true;
        }
        await jump.connect(signal);
      }
      await (this.opts.limiter ?? sharedLimiter).run(`${this.opts.host}:${this.opts.port}`, () =>
        this.handshake(creds, signal),
      );
    })();
    return this.connecting;
  }

  private async handshake(credentials: Promise<SshAuth>, signal?: AbortSignal): Promise<void> {
    const { host, port, name } = this.opts;
    if (this.pinned.length === 0) {
      throw userError(
        "ssh.no-host-key",
        `target ${name}: no valid host_key is pinned, so ${host} cannot be trusted`,
        {
          hint: `pin the key in targets/*.yaml (host_key: "ssh-ed25519 AAAA..."); \`ssh-keyscan -p ${port} ${host}\` shows it, verify it out of band`,
        },
      );
    }
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    // The key exchange and the host key check need no credential: they run while the
    // credential is fetched (decrypted), and authentication waits for it.
    const methods = credentials.then((creds) => this.authMethods(creds));
    methods.catch(() => undefined);
    // ssh2 is loaded by the first SSH connection (a local-only run never needs it); it is
    // CommonJS, so named imports fail under Node's ESM loader once bundled.
    const [{ default: ssh2 }, sock] = await Promise.all([
      import("ssh2"),
      this.openSocket(timeoutMs, signal),
    ]).catch(async (e: unknown) => {
      // A credential that cannot be used says so even when the host is down too, as before it was dialled.
      await methods;
      throw e;
    });
    const client = new ssh2.Client();
    let seen: Buffer | null = null;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: OpscError): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        client.end();
        sock.destroy();
        reject(e);
      };
      const onAbort = (): void =>
        fail(environmentError("ssh.cancelled", `target ${name}: connection cancelled`));
      signal?.addEventListener("abort", onAbort, { once: true });
      // Cancelled while the socket opened or ssh2 loaded: an abort event that already fired never comes again.
      if (signal?.aborted) return onAbort();
      methods.catch((e: OpscError) => fail(e));
      let tried = 0;
      client.on("ready", () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      client.on("error", (err: Error & { level?: string }) => {
        if (seen !== null) {
          fail(this.hostKeyRefused(seen));
        } else if (err.level === "client-authentication") {
          fail(
            userError(
              "ssh.auth-failed",
              `target ${name}: ${this.opts.user}@${host} refused every credential offered`,
              {
                hint: "check the target's `user` and `credential`, and the server's authorized_keys",
              },
            ),
          );
        } else if (err.level === "client-timeout") {
          fail(
            environmentError(
              "ssh.timeout",
              `target ${name}: no SSH handshake with ${host}:${port} within ${timeoutMs} ms`,
            ),
          );
        } else {
          fail(
            environmentError(
              "ssh.connect-failed",
              `target ${name}: SSH to ${host}:${port} failed: ${err.message}`,
            ),
          );
        }
      });
      client.on("close", () => {
        this.client = null;
        if (seen !== null) fail(this.hostKeyRefused(seen));
        else
          fail(
            environmentError("ssh.connect-failed", `target ${name}: ${host}:${port} closed the connection`),
          );
      });
      client.connect({
        sock,
        username: this.opts.user,
        readyTimeout: timeoutMs,
        keepaliveInterval: this.opts.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: this.opts.keepaliveCountMax ?? 3,
        algorithms: {
          serverHostKey: hostKeyAlgorithms(this.pinned) as never,
          // curve25519 first: ssh2's fastest key exchange; group exchange is slow.
          kex: [
            "curve25519-sha256",
            "curve25519-sha256@libssh.org",
            "ecdh-sha2-nistp256",
            "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521",
          ] as never,
        },
        hostVerifier: (key: Buffer): boolean => {
          const ok = this.pinned.some((p) => p.blob.equals(key));
          if (!ok) seen = Buffer.from(key);
          return ok;
        },
        // Methods in order, once the credential is there; false when none is left.
        authHandler: ((_left: unknown, _partial: unknown, next: (method: unknown) => void) => {
          methods.then(
            (list) => next(tried < list.length ? list[tried++] : false),
            () => undefined, // failed above, with the credential's own error
          );
          return undefined;
        }) as unknown as AuthenticationType[],
      });
    });
    this.client = client;
    this.ready = true;
    client.on("error", () => {
      // After ready, failures surface on the next exec as a closed connection.
    });
  }

  /** The authentication methods ssh2 tries, in order: agent, private key, password. */
  private authMethods(creds: SshAuth): Array<Record<string, unknown>> {
    const auth: Array<Record<string, unknown>> = [];
    if (creds.agent) auth.push({ type: "agent", username: this.opts.user, agent: creds.agent });
    if (creds.privateKey) auth.push({ type: "publickey", username: this.opts.user, key: creds.privateKey });
    if (creds.password !== undefined)
      auth.push({ type: "password", username: this.opts.user, password: creds.password });
    if (auth.length === 0) {
      throw userError(
        "ssh.no-credential",
        `target ${this.opts.name}: no private key, password or agent to log in with`,
        {
          hint: "set `credential:` on the target, or run with SSH_AUTH_SOCK set",
        },
      );
    }
    return auth;
  }

  private hostKeyRefused(seen: Buffer): OpscError {
    const pinned = this.pinned.map((p) => `${p.type} ${fingerprint(p.blob)}`).join(", ");
    return userError(
      "ssh.host-key-mismatch",
      `target ${this.opts.name}: host key refused: ${this.opts.host}:${this.opts.port} presented ${keyType(seen)} ${fingerprint(seen)}, which is not pinned (pinned: ${pinned})`,
      {
        hint: "if the host was reinstalled, verify the new key out of band and update host_key; otherwise someone may be intercepting the connection",
      },
    );
  }

  private async openSocket(timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    const { host, port, name } = this.opts;
    if (this.opts.jump) {
      return this.opts.jump.forward(host, port, name);
    }
    return new Promise<Duplex>((resolve, reject) => {
      // noDelay: two ~40 ms Nagle / delayed-ACK stalls per handshake disappear.
      const sock = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(
          environmentError(
            "ssh.unreachable",
            `target ${name}: ${host}:${port} did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(environmentError("ssh.cancelled", `target ${name}: connection cancelled`));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) return onAbort();
      sock.once("connect", () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(sock);
      });
      sock.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        reject(
          environmentError(
            "ssh.unreachable",
            `target ${name}: cannot reach ${host}:${port}: ${e.code ?? e.message}`,
          ),
        );
      });
    });
  }

  /** A tunnel to host:port through this connection (this transport acting as a jump host). */
  forward(host: string, port: number, forTarget: string): Promise<Duplex> {
    const client = this.client;
    if (!client)
      return Promise.reject(environmentError("ssh.jump-down", `jump host ${this.name} is not connected`));
    return new Promise<Duplex>((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, host, port, (err, stream) => {
        if (err) {
          reject(
            environmentError(
              "ssh.unreachable",
              `target ${forTarget}: jump host ${this.name} cannot reach ${host}:${port}: ${err.message}`,
            ),
          );
        } else resolve(stream);
      });
    });
  }

  exec(req: ExecRequest): Promise<ExecResult> {
    const client = this.client;
    if (!client)
      return Promise.reject(environmentError("ssh.not-connected", `target ${this.name}: not connected`));
    const command = remoteCommand(req.shell);
    return new Promise<ExecResult>((resolve, reject) => {
      client.exec(command, (err, channel) => {
        if (err) {
          reject(
            environmentError(
              "ssh.exec-failed",
              `target ${this.name}: cannot start a session: ${err.message}`,
            ),
          );
          return;
        }
        this.drive(client, channel, req, resolve);
      });
    });
  }

  private drive(
    client: InstanceType<typeof Client>,
    channel: ClientChannel,
    req: ExecRequest,
    resolve: (r: ExecResult) => void,
  ): void {
    let timedOut = false;
    let cancelled = false;
    let exitCode: number | null = null;
    const timers: NodeJS.Timeout[] = [];
    const grace = this.opts.killGraceMs ?? KILL_GRACE_MS;
    const posix = req.shell !== "powershell";
    // The shell's first words on stdout are its pid, under a token the step never sees.
    const pidToken = `OPSC-PID-${randomBytes(8).toString("hex")}`;
    const pidReader = posix ? new PidReader(pidToken, (b) => req.onStdout(b)) : null;
    let stopping: Promise<void> | null = null;
    let stopRequested = false;
    const startStop = (pid: number): void => {
      stopping ??= this.stopRemote(client, pid, grace, req.sudo).finally(() => {
        // Something outside the step's process tree may still hold the channel open.
        timers.push(setTimeout(() => channel.close(), 1_000));
      });
    };
    const stop = (): void => {
      if (stopRequested) return;
      stopRequested = true;
      const pid = pidReader?.pid;
      if (pid !== undefined) return startStop(pid);
      // No pid yet (or PowerShell, where OpenSSH for Windows has no signals either):
      // wait for it through the grace period, then fall back to the channel itself.
      timers.push(
        setTimeout(() => {
          if (stopping) return;
          channel.signal("KILL");
          timers.push(setTimeout(() => channel.close(), 1_000));
        }, grace),
      );
    };
    if (pidReader) pidReader.onPid = (pid) => stopRequested && startStop(pid);
    if (req.timeoutMs !== undefined)
      timers.push(
        setTimeout(() => {
          timedOut = true;
          stop();
        }, req.timeoutMs),
      );
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    if (req.signal?.aborted) onAbort();
    req.signal?.addEventListener("abort", onAbort, { once: true });
    channel.on("data", (b: Buffer) => (pidReader ? pidReader.write(b) : req.onStdout(b)));
    channel.stderr.on("data", (b: Buffer) => req.onStderr(b));
    channel.on("exit", (code: number | null) => {
      exitCode = typeof code === "number" ? code : null;
    });
    channel.on("close", () => {
      pidReader?.end();
      req.signal?.removeEventListener("abort", onAbort);
      // The step's shell may die at the TERM while what it started lingers: the kill
      // channel finishes its TERM-then-KILL before the run moves on (and may close the connection).
      void (stopping ?? Promise.resolve()).then(() => {
        for (const t of timers) clearTimeout(t);
        resolve({ exitCode, timedOut, cancelled: cancelled && !timedOut });
      });
    });
    if (req.shell === "powershell") {
      // The PowerShell bootstrap reads stdin to its end.
      channel.end(req.script);
    } else {
      // sh scripts are one `{ ... }` group ending in `exit`, so they need no EOF.
      channel.write(`printf '%s %s\\n' '${pidToken}' "$$"\n${req.script}`);
    }
  }

  /**
   * Stops a step's remote processes from a second session on the same connection:
   * TERM, then KILL after the grace period (see remote-kill.ts). Bounded: a kill
   * session that does not finish in time is closed.
   */
  private stopRemote(
    client: InstanceType<typeof Client>,
    pid: number,
    graceMs: number,
    sudo: ExecRequest["sudo"],
  ): Promise<void> {
    const script = buildRemoteKillScript({ pid, graceMs, ...(sudo ? { sudo } : {}) });
    return new Promise<void>((resolve) => {
      client.exec(remoteCommand("sh"), (err, killer) => {
        if (err) {
          resolve();
          return;
        }
        const bound = setTimeout(() => killer.close(), graceMs + 10_000);
        killer.on("data", () => undefined);
        killer.stderr.on("data", () => undefined);
        killer.on("close", () => {
          clearTimeout(bound);
          resolve();
        });
        killer.end(script);
      });
    });
  }

  /** Over the exec channel of this connection: a script on stdin, the content inside it. */
  readFile(req: ReadFileRequest): Promise<FileState> {
    return readFileOverExec((r) => this.exec(r), this.name, req);
  }

  writeFile(req: WriteFileRequest): Promise<void> {
    return writeFileOverExec((r) => this.exec(r), this.name, req);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    await endClient(client);
    if (this.holdsJump && this.opts.jump) {
      this.holdsJump = false;
      await this.opts.jump.releaseTunnel();
    }
  }

  /**
   * A jump host's connection lives while targets tunnel through it: it closes
   * with the last of them, and opens again if a later batch needs it.
   */
  private async releaseTunnel(): Promise<void> {
    if (--this.tunnels > 0) return;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    this.connecting = null;
    this.ready = false;
    await endClient(client);
    if (this.holdsJump && this.opts.jump) {
      this.holdsJump = false;
      await this.opts.jump.releaseTunnel();
    }
  }
}

/**
 * The command line sshd hands to the login shell. Fixed text only: the script
 * itself, with every value, travels on stdin.
 */
export function remoteCommand(shell: Shell): string {
  const { command, args } = shellCommand(shell);
  return [command, ...args].join(" ");
}

/**
 * Takes the `<token> <pid>` line the step's shell prints first out of stdout. A
 * login shell's rc file may print before it, so lines are passed on until it comes.
 */
class PidReader {
  pid: number | undefined;
  onPid: (pid: number) => void = () => undefined;
  private head: Buffer | null = Buffer.alloc(0);
  private readonly pattern: RegExp;

  constructor(
    token: string,
    private readonly onData: (b: Buffer) => void,
  ) {
    this.pattern = new RegExp(`^${token} (\\d+)\n$`);
  }

  write(b: Buffer): void {
    if (this.head === null) return this.onData(b);
    let buf = Buffer.concat([this.head, b]);
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      const line = buf.subarray(0, nl + 1);
      buf = buf.subarray(nl + 1);
      const m = this.pattern.exec(line.toString("latin1"));
      if (m) {
        this.head = null;
        this.pid = Number(m[1]);
        this.onPid(this.pid);
        if (buf.length > 0) this.onData(buf);
        return;
      }
      this.onData(line);
    }
    this.head = buf;
    // The token line is short: a long partial line is the step's (or an rc file's) output.
    if (buf.length > 4096) this.end();
  }

  end(): void {
    if (this.head && this.head.length > 0) this.onData(this.head);
    this.head = null;
  }
}
