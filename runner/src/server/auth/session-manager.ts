/**
 * Browser sessions after an OIDC login: a short-lived signed access token
 * (a JWT, HS256 with the server's key, made and checked by jose) and a
 * rotating refresh token. Each refresh token works once; presenting one that
 * was already used ends the whole session (it was stolen, or a copy is in use).
 * Sessions and the key live in the state directory, written whole and renamed.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EncryptJWT, jwtDecrypt, jwtVerify, SignJWT } from "jose";

export interface Session {
  id: string;
  user: string;
  groups: string[];
  /** Synchronizer token: state-changing requests with this session's cookie must send it. */
  csrf: string;
  createdAt: string;
  /** Absolute end: a session cannot be refreshed past it. */
  expiresAt: string;
  /** sha256 of the live refresh token. */
  refresh: string;
  /** sha256 of refresh tokens already used: seeing one again ends the session. */
  used: string[];
  endedAt?: string;
  endedWhy?: string;
}

export interface SessionTokens {
  access: string;
  refresh: string;
  csrf: string;
}

export const ACCESS_TTL_S = 300;
export const SESSION_TTL_S = 12 * 3600;
const AUDIENCE = "opsc-session";

const sha = (s: string): string => createHash("sha256").update(s).digest("hex");

export class SessionManager {
  private readonly key: Uint8Array;
  private readonly file: string;
  private readonly sessions = new Map<string, Session>();

  constructor(
    serverDir: string,
    private readonly issuer: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    mkdirSync(serverDir, { recursive: true });
    this.key = loadKey(join(serverDir, "session-key"));
    this.file = join(serverDir, "sessions.json");
    try {
      for (const s of JSON.parse(readFileSync(this.file, "utf8")) as Session[]) this.sessions.set(s.id, s);
    } catch {
      // none yet
    }
  }

  async start(user: string, groups: string[]): Promise<SessionTokens> {
    const now = this.now();
    const secret = randomBytes(32).toString("base64url");
    const s: Session = {
      id: randomBytes(16).toString("hex"),
      user,
      groups,
      csrf: randomBytes(24).toString("base64url"),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + SESSION_TTL_S * 1000).toISOString(),
      refresh: "",
      used: [],
    };
    const refresh = `${s.id}.${secret}`;
    s.refresh = sha(refresh);
    this.sessions.set(s.id, s);
    this.prune();
    this.save();
    return { access: await this.accessToken(s), refresh, csrf: s.csrf };
  }

  /** The live session an access token belongs to, or undefined (bad signature, expired, session ended). */
  async verify(access: string): Promise<Session | undefined> {
    try {
      const { payload } = await jwtVerify(access, this.key, {
        issuer: this.issuer,
        audience: AUDIENCE,
        algorithms: ["HS256"],
        currentDate: this.now(),
      });
      const s = typeof payload.sid === "string" ? this.sessions.get(payload.sid) : undefined;
      return s && this.live(s) && payload.sub === s.user ? s : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * New tokens for a refresh token; a used one ends the session. The outcome
   * says which, so the caller can log a reuse.
   */
  async refresh(
    token: string,
  ): Promise<{ ok: true; tokens: SessionTokens; session: Session } | { ok: false; reused: boolean }> {
    const id = token.split(".")[0] ?? "";
    const s = this.sessions.get(id);
    if (!s || !this.live(s)) return { ok: false, reused: false };
    const h = sha(token);
    if (s.used.includes(h)) {
      this.end(s.id, "refresh token reused");
      return { ok: false, reused: true };
    }
    if (!timingSafeEqual(Buffer.from(h), Buffer.from(s.refresh))) return { ok: false, reused: false };
    const next = `${s.id}.${randomBytes(32).toString("base64url")}`;
    s.used.push(s.refresh);
    s.refresh = sha(next);
    this.save();
    return {
      ok: true,
      tokens: { access: await this.accessToken(s), refresh: next, csrf: s.csrf },
      session: s,
    };
  }

  end(id: string, why: string): boolean {
    const s = this.sessions.get(id);
    if (!s || s.endedAt) return false;
    s.endedAt = this.now().toISOString();
    s.endedWhy = why;
    this.save();
    return true;
  }

  /** A live session by id. */
  get(id: string): Session | undefined {
    const s = this.sessions.get(id);
    return s && this.live(s) ? s : undefined;
  }

  /** Live sessions, for admins. */
  list(): Array<Pick<Session, "id" | "user" | "createdAt" | "expiresAt">> {
    return [...this.sessions.values()]
      .filter((s) => this.live(s))
      .map(({ id, user, createdAt, expiresAt }) => ({ id, user, createdAt, expiresAt }));
  }

  /** Short-lived sealed state for the login round trip (state, nonce, PKCE verifier): encrypted, not just signed. */
  seal(claims: Record<string, string>, ttlSeconds: number): Promise<string> {
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .setIssuedAt()
      .setExpirationTime(Math.floor(this.now().getTime() / 1000) + ttlSeconds)
      .encrypt(this.key);
  }

  async unseal(token: string): Promise<Record<string, unknown> | undefined> {
    try {
      return (await jwtDecrypt(token, this.key, { currentDate: this.now() })).payload;
    } catch {
      return undefined;
    }
  }

  private accessToken(s: Session): Promise<string> {
    const now = Math.floor(this.now().getTime() / 1000);
    return new SignJWT({ sid: s.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(s.user)
      .setIssuer(this.issuer)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + ACCESS_TTL_S)
      .sign(this.key);
  }

  private live(s: Session): boolean {
    return !s.endedAt && Date.parse(s.expiresAt) > this.now().getTime();
  }

  private prune(): void {
    const cutoff = this.now().getTime() - 24 * 3600 * 1000;
    for (const [id, s] of this.sessions) if (Date.parse(s.expiresAt) < cutoff) this.sessions.delete(id);
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.sessions.values()]), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

function loadKey(file: string): Uint8Array {
  try {
    const k = readFileSync(file);
    if (k.length === 32) return new Uint8Array(k);
  } catch {
    // first start
  }
  const k = randomBytes(32);
  writeFileSync(file, k, { mode: 0o600, flag: "w" });
  return new Uint8Array(k);
}
