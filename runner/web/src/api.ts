/**
 * The dashboard's one door to the server: every call sends the session cookie
 * (same origin) and, when the page was given one, a bearer token; writes send
 * the session's CSRF token. `GET /api/me` says who the caller is; a server
 * without it (404) only knows the bootstrap API token, which may do anything.
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
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
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
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `the server answered ${res.status}`);
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { credentials: "same-origin", headers: headers() }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    }),
  );
}

export async function me(): Promise<Me> {
  const res = await fetch("/api/me", { credentials: "same-origin", headers: headers() });
  if (res.status === 404) return { user: "api token", roles: ["admin"], identities: false, admin: true };
  const m = await answer<{ user: string; roles?: string[]; csrf?: string; may?: { admin?: boolean } }>(res);
  csrf = m.csrf;
  return {
    user: m.user,
    roles: m.roles ?? [],
    identities: true,
    ...(m.csrf ? { csrf: m.csrf } : {}),
    admin: m.may?.admin ?? false,
  };
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
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}/events`, {
    credentials: "same-origin",
    headers: headers({ Accept: "text/event-stream" }),
    signal,
  });
  if (!res.ok || !res.body) throw new ApiError(res.status, `the event stream answered ${res.status}`);
  for await (const m of readSse(res.body)) {
    if (m.event === "end") return;
    onEvent(JSON.parse(m.data) as RunEvent);
  }
}
