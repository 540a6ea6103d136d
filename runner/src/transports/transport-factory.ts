/**
 * Turns planned targets into transports for one run: credentials are fetched
 * and private keys parsed (and decrypted) once per credential reference, only
 * when a target using them connects; jump hosts are shared between the targets
 * behind them.
 */
import { setMaxListeners } from "node:events";
import { userInfo } from "node:os";
import type { ParsedKey } from "ssh2";
import { userError } from "../core/errors.js";
import type { PlannedTarget } from "../core/plan-model.js";
import type { Redactor } from "../secrets/redactor.js";
import { HandshakeLimiter } from "./handshake-limiter.js";
import { LocalTransport } from "./local-transport.js";
import { SshTransport, type SshAuth } from "./ssh-transport.js";
import type { Transport } from "./transport.js";

/** What a credential reference resolves to: a string, or a mapping with private_key, passphrase, password. */
export type CredentialValue = string | Record<string, unknown>;

/** The part of the credential store the transports need. */
export interface CredentialSource {
  get(ref: string): CredentialValue | Promise<CredentialValue>;
}

export interface TransportFactoryOptions {
  credentials?: CredentialSource;
  redactor?: Redactor;
  /** ssh-agent socket for targets without a credential; default $SSH_AUTH_SOCK. */
  agent?: string;
  connectTimeoutMs?: number;
  /** Concurrent SSH handshakes per destination host and port (default 10, OpenSSH's MaxStartups start). */
  handshakes?: number;
}

export interface TransportFactory {
  /** The target's transport: the one `connectEarly` opened for it, else a new one. */
  transportFor(target: PlannedTarget): Transport;
  sudoPassword(target: PlannedTarget): Promise<string | undefined>;
  /**
   * Starts connecting to these SSH targets now (handshake, host key check,
   * authentication, which decrypts their credential) while the run still has
   * other waiting to do; nothing runs on them. A failure surfaces when the run
   * asks for the target's transport and waits for its connection.
   */
  connectEarly(targets: readonly PlannedTarget[], signal?: AbortSignal): void;
  /** Closes early connections the run never asked for (targets skipped or not reached). */
  closeUnused(): Promise<void>;
}

export function createTransportFactory(opts: TransportFactoryOptions = {}): TransportFactory {
  const limiter = new HandshakeLimiter(opts.handshakes ?? 10);
  const auths = new Map<string, Promise<SshAuth>>();
  const jumps = new Map<string, SshTransport>();
  const agent = opts.agent ?? process.env.SSH_AUTH_SOCK;

  const lookup = async (ref: string): Promise<CredentialValue> => {
    if (!opts.credentials) {
      throw userError(
        "run.no-credentials",
        `credential ${ref} is needed but no credential store is available`,
      );
    }
    const value = await opts.credentials.get(ref);
    for (const v of typeof value === "string" ? [value] : Object.values(value)) {
      if (typeof v === "string") opts.redactor?.add(v);
    }
    return value;
  };

  const authFor = (target: PlannedTarget): (() => Promise<SshAuth>) => {
    const ref = target.credential;
    if (!ref) {
      return () => Promise.resolve(agent ? { agent } : {});
    }
    return () => {
      let p = auths.get(ref);
      if (!p) {
        p = lookup(ref).then((value) => toAuth(ref, value, target.name));
        auths.set(ref, p);
      }
      return p;
    };
  };

  const ssh = (target: PlannedTarget, shared: boolean): SshTransport => {
    const key = `${target.user ?? ""}@${target.host ?? ""}:${target.port}`;
    if (shared) {
      const existing = jumps.get(key);
      if (existing) return existing;
    }
    if (!target.host) throw userError("run.no-host", `target ${target.name} uses ssh but has no host`);
    const jump = target.jump ? ssh(target.jump, true) : undefined;
    const t = new SshTransport({
      name: target.name,
      host: target.host,
      port: target.port,
      user: target.user ?? userInfo().username,
      hostKeys: target.hostKeys,
      auth: authFor(target),
      limiter,
      ...(jump ? { jump } : {}),
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    });
    if (shared) jumps.set(key, t);
    return t;
  };

  // Early connections by target name, handed over once to the run that asks.
  const early = new Map<string, SshTransport>();

  return {
    transportFor: (target) => {
      if (target.transport === "local") return new LocalTransport(target.name);
      const opened = early.get(target.name);
      early.delete(target.name);
      // A connection the server dropped while the run waited for its locks is opened anew;
      // one that failed to open is handed over, and the run reports why.
      if (opened && !opened.dropped) return opened;
      void opened?.close();
      return ssh(target, false);
    },
    connectEarly: (targets, signal) => {
      // One listener on the caller's signal, however many handshakes listen to this one.
      const cancel = new AbortController();
      setMaxListeners(0, cancel.signal);
      if (signal?.aborted) cancel.abort(signal.reason);
      else signal?.addEventListener("abort", () => cancel.abort(signal.reason), { once: true });
      for (const target of targets) {
        if (target.transport !== "ssh" || !target.host || early.has(target.name)) continue;
        const t = ssh(target, false);
        early.set(target.name, t);
        t.connect(cancel.signal).catch(() => undefined);
      }
    },
    closeUnused: async () => {
      const left = [...early.values()];
      early.clear();
      await Promise.all(left.map((t) => t.close().catch(() => undefined)));
    },
    sudoPassword: async (target) => {
      const ref = target.sudo?.password;
      if (!ref) return undefined;
      const value = await lookup(ref);
      if (typeof value === "string") return value;
      if (typeof value.password === "string") return value.password;
      throw userError(
        "run.bad-sudo-credential",
        `sudo password ${ref} of target ${target.name} is not a string`,
        {
          hint: "point sudo.password at a string value, such as prod/sudo.password",
        },
      );
    },
  };
}

/** A credential value as SSH auth: a mapping, a private key in PEM/OpenSSH form, or a password. */
export async function toAuth(ref: string, value: CredentialValue, targetName: string): Promise<SshAuth> {
  const m =
    typeof value === "string"
      ? /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)
        ? { private_key: value }
        : { password: value }
      : value;
  const auth: SshAuth = {};
  if (typeof m.private_key === "string") {
    const passphrase = typeof m.passphrase === "string" ? m.passphrase : undefined;
    const { default: ssh2 } = await import("ssh2");
    const parsed = ssh2.utils.parseKey(m.private_key, passphrase);
    if (parsed instanceof Error) {
      throw userError(
        "ssh.bad-private-key",
        `credential ${ref} (target ${targetName}): cannot read the private key: ${parsed.message}`,
        {
          hint:
            passphrase === undefined
              ? "if the key is encrypted, add `passphrase` next to `private_key`"
              : "check the passphrase",
        },
      );
    }
    auth.privateKey = (Array.isArray(parsed) ? parsed[0] : parsed) as ParsedKey;
  }
  if (typeof m.password === "string") auth.password = m.password;
  if (!auth.privateKey && auth.password === undefined) {
    throw userError(
      "ssh.bad-credential",
      `credential ${ref} (target ${targetName}) has neither private_key nor password`,
    );
  }
  return auth;
}
