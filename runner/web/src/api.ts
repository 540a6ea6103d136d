/**
 * The dashboard's one door to the server: every call sends the session cookie
 * (same origin) and, when the page was given one, a bearer token; writes send
 * the session's CSRF token. A session's access token lives 5 minutes: on 401
 * the session is refreshed once and the call repeated. `GET /api/me` says who
 * the caller is; a server without it (404) only knows the bootstrap API token,
 * which may do anything.
 */
import type { RunEvent } from "../../src/core/run-events.js";
import { readSse } from "../../src/cli/follow-run.js";

export interface Me {
  user: string;
  roles: string[];
  /** The server has identities and roles (GET /api/me answered). */
  identities: boolean;
  csrf?: string;
  admin: boolean;
  /** How the caller proved who they are: `oidc` for a signed-in browser. */
  via?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Where to sign in, when the server has sign-in and the caller has no identity (401). */
    readonly signIn?: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = "opsc.token";

/** A token given in the URL fragment (`#token=...`) is kept for the tab and removed from the address bar. */
function bearer(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

let csrf: string | undefined;

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = bearer();
  return {
    Accept: "application/json",
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...(csrf ? { "X-CSRF-Token": csrf } : {}),
    ...extra,
  };
}

async function answer<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; signIn?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `the server answered ${res.status}`, body.signIn);
  return body as T;
}

let refreshing: Promise<boolean> | undefined;

/** A new access token for the session (the refresh cookie is sent to /auth only); false when there is no session. */
function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin" });
      if (!res.ok) return false;
      csrf = ((await res.json()) as { csrf?: string }).csrf ?? csrf;
      return true;
    } catch {
      return false;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

let signInNeeded: ((signIn: string) => void) | undefined;

/** Told where to sign in when a call finds no session (none, or one that can no longer be renewed). */
export function onSignInNeeded(handler: (signIn: string) => void): void {
  signInNeeded = handler;
}

/** fetch with the caller's credentials; a session whose access token expired is refreshed and the call repeated once. */
async function send(
  path: string,
  init: RequestInit = {},
  extra: Record<string, string> = {},
): Promise<Response> {
  const go = (): Promise<Response> =>
    fetch(path, { ...init, credentials: "same-origin", headers: headers(extra) });
  let res = await go();
  if (res.status !== 401 || bearer()) return res;
  // Only a browser that holds a session's cookies tries: a refresh without one counts as a failed sign-in.
  if (/(?:^|;\s*)opsc_csrf=/.test(document.cookie) && (await refreshSession())) res = await go();
  if (res.status === 401 && signInNeeded) {
    const body = (await res
      .clone()
      .json()
      .catch(() => ({}))) as { signIn?: unknown };
    if (typeof body.signIn === "string") signInNeeded(body.signIn);
  }
  return res;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await send(path));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await send(path, { method: "POST", body: JSON.stringify(body) }, { "Content-Type": "application/json" }),
  );
}

export async function me(): Promise<Me> {
  const res = await send("/api/me");
  if (res.status === 404) return { user: "api token", roles: ["admin"], identities: false, admin: true };
  const m = await answer<{
    user: string;
    roles?: string[];
    csrf?: string;
    via?: string;
    may?: { admin?: boolean };
  }>(res);
  csrf = m.csrf;
  return {
    user: m.user,
    roles: m.roles ?? [],
    identities: true,
    ...(m.csrf ? { csrf: m.csrf } : {}),
    admin: m.may?.admin ?? false,
    ...(m.via ? { via: m.via } : {}),
  };
}

/** Ends the browser's session (the server forgets it; its cookies are cleared). */
export async function signOut(): Promise<void> {
  await answer<unknown>(await send("/auth/logout", { method: "POST" }));
  csrf = undefined;
}

/**
 * The run's events from its start until it ends; fetch rather than
 * EventSource, which cannot send a bearer token.
 */
export async function followRun(
  id: string,
  onEvent: (e: RunEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await send(
    `/api/runs/${encodeURIComponent(id)}/events`,
    { signal },
    { Accept: "text/event-stream" },
  );
  if (!res.ok || !res.body) throw new ApiError(res.status, `the event stream answered ${res.status}`);
  for await (const m of readSse(res.body)) {
    if (m.event === "end") return;
    onEvent(JSON.parse(m.data) as RunEvent);
  }
}
