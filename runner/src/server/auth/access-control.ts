/**
 * Who is calling and what they may do, for every /api and /auth request.
 * A caller proves who they are with a bearer token (the bootstrap
 * OPSC_API_TOKEN or a personal token) or a session cookie from an OIDC login;
 * the access policy at the head of the default branch says what that identity
 * may do. Cookie sessions must send their CSRF token on state-changing requests.
 */
import { errorText } from "../../core/error-text.js";
import { createHash, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { may, rolesOf, type AccessPolicy, type Identity, type Permission } from "../../core/access-policy.js";
import type { TokenStore } from "../../app/personal-tokens.js";
import { FailureLimiter } from "./failure-limiter.js";
import type { OidcClient } from "./oidc-client.js";
import { ACCESS_TTL_S, SESSION_TTL_S, type SessionManager, type SessionTokens } from "./session-manager.js";

export const ACCESS_COOKIE = "opsc_at";
export const REFRESH_COOKIE = "opsc_rt";
export const CSRF_COOKIE = "opsc_csrf";
const LOGIN_COOKIE = "opsc_login";
const LOGIN_TTL_S = 600;

/** Something that happened to access worth an audit line. */
export interface AccessEvent {
  event: "token.created" | "token.revoked" | "session.ended" | "run.refused";
  by: Identity;
  detail: Record<string, string>;
}

export interface AccessControlOptions {
  logger: Logger;
  /** The policy in force (the default branch's head, or the last good one). */
  policy: () => Promise<AccessPolicy | undefined>;
  tokens: TokenStore;
  sessions: SessionManager;
  oidc?: OidcClient;
  bootstrapToken?: string;
  /** Cookies get `Secure` unless the public URL is plain HTTP (loopback development). */
  secureCookies: boolean;
  failuresPerMinute?: number;
  onEvent?: (event: AccessEvent) => void;
  now?: () => Date;
}

export interface Caller {
  identity: Identity;
  /** Set for cookie sessions: the session id (and so CSRF applies). */
  session?: string;
}

export class AccessControl {
  private readonly limiter: FailureLimiter;
  private readonly now: () => Date;

  constructor(private readonly o: AccessControlOptions) {
    this.limiter = new FailureLimiter(o.failuresPerMinute ?? 20, 60_000);
    this.now = o.now ?? (() => new Date());
  }

  /** Middleware: sets res.locals.caller, or answers 401/403/429. */
  identify = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const address = req.socket.remoteAddress ?? "unknown";
    const wait = this.limiter.blockedFor(address);
    if (wait > 0) {
      res
        .status(429)
        .set("Retry-After", String(Math.ceil(wait / 1000)))
        .json({ error: "too many failed authentication attempts from this address; try again later" });
      return;
    }
    const refuse = (why: string): void => {
      this.limiter.fail(address);
      this.o.logger.warn({ address, method: req.method, path: req.path, why }, "authentication failed");
      res.status(401).set("WWW-Authenticate", "Bearer").json({ error: why });
    };
    const bearer = /^Bearer (.+)$/i.exec(req.get("authorization") ?? "")?.[1]?.trim();
    if (bearer) {
      if (this.o.bootstrapToken && sameSecret(bearer, this.o.bootstrapToken)) {
        res.locals.caller = {
          identity: { user: "bootstrap", via: "bootstrap-token", groups: [] },
        } satisfies Caller;
        next();
        return;
      }
      const t = this.o.tokens.find(bearer, this.now());
      if (!t) return refuse("unknown, revoked or expired bearer token");
      res.locals.caller = {
        identity: { user: t.user, via: "token", groups: [], token: t.name },
      } satisfies Caller;
      next();
      return;
    }
    const cookies = parseCookies(req.get("cookie"));
    const access = cookies[ACCESS_COOKIE];
    if (access) {
      const s = await this.o.sessions.verify(access);
      if (!s) return refuse("the session is invalid or expired (POST /auth/refresh, or sign in again)");
      if (!SAFE_METHODS.has(req.method) && !sameSecret(req.get("x-csrf-token") ?? "", s.csrf)) {
        this.limiter.fail(address);
        this.o.logger.warn({ address, path: req.path, user: s.user }, "CSRF token missing or wrong");
        res.status(403).json({ error: "missing or wrong X-CSRF-Token (GET /api/me gives it)" });
        return;
      }
      res.locals.caller = {
        identity: { user: s.user, via: "oidc", groups: s.groups },
        session: s.id,
      } satisfies Caller;
      next();
      return;
    }
    res
      .status(401)
      .set("WWW-Authenticate", "Bearer")
      .json({
        error: "sign in (GET /auth/login) or send Authorization: Bearer <token>",
        // The dashboard sends a browser without a session here.
        ...(this.o.oidc ? { signIn: "/auth/login" } : {}),
      });
  };

  /** Whether the caller may; answers 403 naming the missing permission when not. */
  async allow(res: Response, permission: Permission, jobId?: string): Promise<boolean> {
    const caller = callerOf(res);
    if (may(await this.o.policy(), caller.identity, permission, jobId)) return true;
    res.status(403).json({
      error: `${caller.identity.user} lacks the "${permission}" permission${jobId !== undefined ? ` on job "${jobId}"` : ""}`,
      missing: permission,
      ...(jobId !== undefined ? { job: jobId } : {}),
    });
    return false;
  }

  policyNow(): Promise<AccessPolicy | undefined> {
    return this.o.policy();
  }

  mayNow(
    policy: AccessPolicy | undefined,
    identity: Identity,
    permission: Permission,
    jobId?: string,
  ): boolean {
    return may(policy, identity, permission, jobId);
  }

  event(e: AccessEvent): void {
    this.o.logger.info({ event: e.event, by: e.by.user, via: e.by.via, ...e.detail }, "access event");
    this.o.onEvent?.(e);
  }

  /** GET /api/me. */
  me = async (_req: Request, res: Response): Promise<void> => {
    const caller = callerOf(res);
    const policy = await this.o.policy();
    const id = caller.identity;
    const session = caller.session ? this.o.sessions.get(caller.session) : undefined;
    res.json({
      user: id.user,
      roles: rolesOf(policy, id),
      via: id.via,
      ...(id.token ? { token: id.token } : {}),
      ...(id.via === "oidc" ? { groups: id.groups } : {}),
      ...(session ? { csrf: session.csrf } : {}),
      may: { admin: may(policy, id, "admin"), view: may(policy, id, "view") },
    });
  };

  /** /auth: login, callback, refresh, logout. */
  routes(): express.Router {
    const r = express.Router();
    r.get("/login", async (req, res) => {
      if (!this.o.oidc) {
        res.status(404).json({ error: "sign-in is not configured (OPSC_OIDC_ISSUER and friends)" });
        return;
      }
      const start = await this.o.oidc.start();
      const returnTo =
        typeof req.query.return_to === "string" && /^\/(?!\/)/.test(req.query.return_to)
          ? req.query.return_to
          : "/api/me";
      const sealed = await this.o.sessions.seal(
        { state: start.state, nonce: start.nonce, verifier: start.verifier, returnTo },
        LOGIN_TTL_S,
      );
      // Lax: the provider's redirect back is a top-level GET from another site.
      res.cookie(LOGIN_COOKIE, sealed, this.cookie("lax", "/auth", LOGIN_TTL_S, true));
      res.redirect(302, start.url);
    });
    r.get("/callback", async (req, res) => {
      const address = req.socket.remoteAddress ?? "unknown";
      const login = await this.o.sessions.unseal(parseCookies(req.get("cookie"))[LOGIN_COOKIE] ?? "");
      res.clearCookie(LOGIN_COOKIE, { path: "/auth" });
      if (!this.o.oidc || !login) {
        res
          .status(400)
          .json({ error: "no sign-in in progress (or it took too long): start again at /auth/login" });
        return;
      }
      let user;
      try {
        user = await this.o.oidc.finish(new URL(req.originalUrl, this.o.oidc.redirectUri), {
          state: String(login.state),
          nonce: String(login.nonce),
          verifier: String(login.verifier),
        });
      } catch (e) {
        this.limiter.fail(address);
        this.o.logger.warn({ address, err: errorText(e) }, "sign-in failed");
        res.status(401).json({ error: "sign-in failed: the provider's answer was refused" });
        return;
      }
      const tokens = await this.o.sessions.start(user.user, user.groups);
      this.setSession(res, tokens);
      this.o.logger.info({ user: user.user }, "signed in");
      res.redirect(303, String(login.returnTo ?? "/api/me"));
    });
    r.post("/refresh", async (req, res) => {
      const token = parseCookies(req.get("cookie"))[REFRESH_COOKIE];
      const address = req.socket.remoteAddress ?? "unknown";
      const out = token ? await this.o.sessions.refresh(token) : { ok: false as const, reused: false };
      if (!out.ok) {
        this.limiter.fail(address);
        this.o.logger.warn(
          { address, reused: out.reused },
          out.reused ? "refresh token reused: session ended" : "refresh refused",
        );
        this.clearSession(res);
        res.status(401).json({
          error: out.reused
            ? "this refresh token was already used: the session is ended, sign in again"
            : "no live session to refresh: sign in again",
        });
        return;
      }
      this.setSession(res, out.tokens);
      res.json({ ok: true, csrf: out.tokens.csrf, expiresIn: ACCESS_TTL_S });
    });
    r.post("/logout", this.identify, (_req, res) => {
      const caller = callerOf(res);
      if (caller.session) this.o.sessions.end(caller.session, "logout");
      this.clearSession(res);
      res.json({ ok: true });
    });
    return r;
  }

  /** Admin routes under /api: tokens and sessions. */
  adminRoutes(json: express.RequestHandler): express.Router {
    const r = express.Router();
    r.get("/tokens", async (_req, res) => {
      if (!(await this.allow(res, "admin"))) return;
      res.json({ tokens: this.o.tokens.list().map(({ sha256: _h, ...t }) => t) });
    });
    r.post("/tokens", json, async (req, res) => {
      if (!(await this.allow(res, "admin"))) return;
      const body = (req.body ?? {}) as { name?: unknown; user?: unknown; expiresInDays?: unknown };
      if (typeof body.name !== "string" || typeof body.user !== "string") {
        res.status(400).json({ error: "`name` and `user` are required strings" });
        return;
      }
      const days = body.expiresInDays;
      if (days !== undefined && (typeof days !== "number" || !(days > 0) || days > 3650)) {
        res.status(400).json({ error: "`expiresInDays` must be a number of days between 0 and 3650" });
        return;
      }
      const by = callerOf(res).identity;
      const { token, entry } = this.o.tokens.create({
        name: body.name,
        user: body.user,
        createdBy: by.user,
        now: this.now(),
        ...(typeof days === "number" ? { expiresInMs: Math.round(days * 86_400_000) } : {}),
      });
      this.event({ event: "token.created", by, detail: { token: entry.name, user: entry.user } });
      const { sha256: _h, ...shown } = entry;
      res.status(201).json({ ...shown, token });
    });
    r.delete("/tokens/:name", async (req, res) => {
      if (!(await this.allow(res, "admin"))) return;
      const by = callerOf(res).identity;
      const entry = this.o.tokens.revoke(String(req.params.name), { by: by.user, now: this.now() });
      this.event({ event: "token.revoked", by, detail: { token: entry.name, user: entry.user } });
      res.json({ revoked: entry.name });
    });
    r.get("/sessions", async (_req, res) => {
      if (!(await this.allow(res, "admin"))) return;
      res.json({ sessions: this.o.sessions.list() });
    });
    r.delete("/sessions/:id", async (req, res) => {
      if (!(await this.allow(res, "admin"))) return;
      const id = String(req.params.id);
      if (!this.o.sessions.end(id, `ended by ${callerOf(res).identity.user}`)) {
        res.status(404).json({ error: `no live session "${id}"` });
        return;
      }
      this.event({ event: "session.ended", by: callerOf(res).identity, detail: { session: id } });
      res.json({ ended: id });
    });
    return r;
  }

  private setSession(res: Response, t: SessionTokens): void {
    res.cookie(ACCESS_COOKIE, t.access, this.cookie("lax", "/", ACCESS_TTL_S, true));
    res.cookie(REFRESH_COOKIE, t.refresh, this.cookie("strict", "/auth", SESSION_TTL_S, true));
    res.cookie(CSRF_COOKIE, t.csrf, this.cookie("strict", "/", SESSION_TTL_S, false));
  }

  private clearSession(res: Response): void {
    res.clearCookie(ACCESS_COOKIE, { path: "/" });
    res.clearCookie(REFRESH_COOKIE, { path: "/auth" });
    res.clearCookie(CSRF_COOKIE, { path: "/" });
  }

  private cookie(
    sameSite: "lax" | "strict",
    path: string,
    maxAgeS: number,
    httpOnly: boolean,
  ): express.CookieOptions {
    return { httpOnly, sameSite, path, maxAge: maxAgeS * 1000, secure: this.o.secureCookies };
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

function sameSecret(a: string, b: string): boolean {
  // Hash first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) {
      try {
        out[name] = decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        out[name] = part.slice(eq + 1).trim();
      }
    }
  }
  return out;
}
