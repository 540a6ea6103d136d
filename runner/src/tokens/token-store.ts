/**
 * Personal API tokens of `opsc serve`, in the server's state directory
 * (`server/tokens.json`). Only a sha256 of each token is stored: the token
 * itself is shown once, when it is created. Every write is a whole file written
 * aside and renamed under a lock file, so the CLI and a running server can both
 * change it; readers pick up changes by the file's modification time.
 */
import { errorText } from "../core/error-text.js";
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { environmentError, userError } from "../core/errors.js";

/** What is kept of a token: never the token itself. */
export interface TokenEntry {
  name: string;
  /** The user the token acts as (its roles come from access.yaml). */
  user: string;
  /** sha256 (hex) of the token. */
  sha256: string;
  createdAt: string;
  /** Who created it: `cli` or the admin's user. */
  createdBy: string;
  expiresAt?: string;
  revokedAt?: string;
  revokedBy?: string;
}

interface TokenFile {
  v: 1;
  tokens: TokenEntry[];
}

/** A token created or revoked by another process (`opsc tokens` on the command line). */
export interface OutsideTokenChange {
  event: "token.created" | "token.revoked";
  entry: TokenEntry;
}

/** Token names: short, safe in URLs and logs. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A prefix makes a leaked token easy to find with secret scanners. */
export const TOKEN_PREFIX = "opsc_";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export class TokenStore {
  private readonly file: string;
  private readonly lock: string;
  private cache: { ino: number; mtimeMs: number; data: TokenFile } | undefined;
  /** For outsideChanges(): each token (by hash) this process knows, and whether it is revoked. */
  private known: Map<string, boolean> | undefined;
  /** Changes by others found while this process wrote, not yet taken by outsideChanges(). */
  private pending: OutsideTokenChange[] = [];

  /** `stateDir` is the server's --state directory. */
  constructor(stateDir: string) {
    const dir = join(stateDir, "server");
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, "tokens.json");
    this.lock = join(dir, "tokens.lock");
  }

  list(): TokenEntry[] {
    return this.read().tokens.map((t) => ({ ...t }));
  }

  /** The live token with this value, or undefined (unknown, revoked or expired). */
  find(token: string, now: Date): TokenEntry | undefined {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const sha = hashToken(token);
    const hit = this.read().tokens.find((t) => t.sha256 === sha);
    if (!hit || hit.revokedAt || (hit.expiresAt && Date.parse(hit.expiresAt) <= now.getTime()))
      return undefined;
    return { ...hit };
  }

  /** Creates a token; the returned value is the only time it exists outside the caller. */
  create(o: { name: string; user: string; expiresInMs?: number; createdBy: string; now: Date }): {
    token: string;
    entry: TokenEntry;
  } {
    if (!NAME.test(o.name))
      throw userError("tokens.bad-name", `"${o.name}" is not a valid token name`, {
        hint: "use letters, digits, `.`, `_`, `-` (up to 64 characters), e.g. ci-deploy",
      });
    if (o.user.trim() === "" || o.user.length > 320)
      throw userError("tokens.bad-user", "--user must name a user (an email or a name in access.yaml)");
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const entry: TokenEntry = {
      name: o.name,
      user: o.user,
      sha256: hashToken(token),
      createdAt: o.now.toISOString(),
      createdBy: o.createdBy,
      ...(o.expiresInMs !== undefined
        ? { expiresAt: new Date(o.now.getTime() + o.expiresInMs).toISOString() }
        : {}),
    };
    this.update((data) => {
      if (data.tokens.some((t) => t.name === o.name && !t.revokedAt))
        throw userError("tokens.exists", `a token named "${o.name}" already exists`, {
          hint: `pick another name, or revoke it first (opsc tokens revoke ${o.name})`,
        });
      data.tokens.push(entry);
    });
    return { token, entry };
  }

  /** Revokes the live token with this name. */
  revoke(name: string, o: { by: string; now: Date }): TokenEntry {
    let revoked: TokenEntry | undefined;
    this.update((data) => {
      const t = data.tokens.find((x) => x.name === name && !x.revokedAt);
      if (!t)
        throw userError("tokens.unknown", `there is no live token named "${name}"`, {
          hint: "opsc tokens list shows the tokens",
        });
      t.revokedAt = o.now.toISOString();
      t.revokedBy = o.by;
      revoked = { ...t };
    });
    return revoked!;
  }

  /**
   * Tokens created or revoked by another process since the last call; the
   * first call only learns what is there. Changes this store makes itself are
   * not reported: their caller records them.
   */
  outsideChanges(): OutsideTokenChange[] {
    const data = this.read();
    if (this.known) this.pending.push(...this.diff(data));
    this.known = knownOf(data);
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private diff(data: TokenFile): OutsideTokenChange[] {
    const out: OutsideTokenChange[] = [];
    for (const t of data.tokens) {
      const revoked = this.known!.get(t.sha256);
      if (revoked === undefined) out.push({ event: "token.created", entry: { ...t } });
      if (t.revokedAt && revoked !== true) out.push({ event: "token.revoked", entry: { ...t } });
    }
    return out;
  }

  private read(): TokenFile {
    let st;
    try {
      st = statSync(this.file);
    } catch {
      return { v: 1, tokens: [] };
    }
    // Every write renames a new file into place: a new inode.
    if (this.cache && this.cache.ino === st.ino && this.cache.mtimeMs === st.mtimeMs) return this.cache.data;
    let data: TokenFile;
    try {
      data = JSON.parse(readFileSync(this.file, "utf8")) as TokenFile;
      if (!Array.isArray(data.tokens)) throw new Error("no tokens list");
    } catch (e) {
      throw environmentError("tokens.unreadable", `cannot read ${this.file}: ${errorText(e)}`, {
        hint: "restore it from a backup, or remove it (every token is then gone)",
      });
    }
    this.cache = { ino: st.ino, mtimeMs: st.mtimeMs, data };
    return data;
  }

  private update(change: (data: TokenFile) => void): void {
    this.withLock(() => {
      this.cache = undefined;
      const data = structuredClone(this.read());
      // What others changed since we last looked is theirs to report, not ours to swallow.
      if (this.known) this.pending.push(...this.diff(data));
      change(data);
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
      this.cache = undefined;
      if (this.known) this.known = knownOf(data);
    });
  }

  private withLock(fn: () => void): void {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        closeSync(openSync(this.lock, "wx"));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        // A holder never keeps it for more than a file write: an old lock is left by a killed process.
        try {
          if (Date.now() - statSync(this.lock).mtimeMs > 10_000) rmSync(this.lock, { force: true });
        } catch {
          // gone meanwhile
        }
        if (Date.now() > deadline)
          throw environmentError("tokens.locked", `${this.lock} is held by another process`, {
            hint: "try again; if no opsc process is changing tokens, remove the lock file",
          });
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    try {
      fn();
    } finally {
      rmSync(this.lock, { force: true });
    }
  }
}

function knownOf(data: TokenFile): Map<string, boolean> {
  return new Map(data.tokens.map((t) => [t.sha256, t.revokedAt !== undefined]));
}
