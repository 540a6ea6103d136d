/**
 * A real OpenID provider (the `oidc-provider` package) on loopback, with its
 * development login and consent forms: any login is accepted, and the login
 * name is the account's email. Listens on 127.0.0.77 so its cookies never mix
 * with the runner's on 127.0.0.1 (cookies are scoped by host, not port).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface TestProvider {
  issuer: string;
  close(): Promise<void>;
}

export const PROVIDER_HOST = "127.0.0.77";

export async function startOidcProvider(o: {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** OIDC groups per login. */
  groups?: Record<string, string[]>;
}): Promise<TestProvider> {
  // The issuer names the port, so the server listens before the provider exists.
  const target: { handler?: (req: never, res: never) => void } = {};
  const server: Server = createServer((req, res) => target.handler!(req as never, res as never));
  await new Promise<void>((resolve) => server.listen(0, PROVIDER_HOST, resolve));
  const issuer = `http://${PROVIDER_HOST}:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: o.clientId,
        client_secret: o.clientSecret,
        redirect_uris: [o.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    // Email in the ID token, the way Google, Keycloak and Entra send it.
    conformIdTokenClaims: false,
    claims: { openid: ["sub", "groups"], email: ["email", "email_verified"] },
    cookies: { keys: ["test-provider-cookie-key"] },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, groups: o.groups?.[id] ?? [] }),
    }),
  } as never);
  target.handler = provider.callback() as never;
  return {
    issuer,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Cookies per host, as a browser keeps them (name, value, path; expiry by Max-Age=0 only). */
export class CookieJar {
  private readonly jar = new Map<string, Map<string, { value: string; path: string }>>();

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map<string, { value: string; path: string }>();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? "/";
      const gone =
        attrs.some((a) => /^max-age=0$/i.test(a)) ||
        attrs.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now());
      if (gone || value === "") cookies.delete(name);
      else cookies.set(name, { value, path });
    }
    this.jar.set(host, cookies);
  }

  header(url: string): string {
    const u = new URL(url);
    return [...(this.jar.get(u.host) ?? new Map<string, { value: string; path: string }>())]
      .filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`)
      .join("; ");
  }

  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name)?.value;
  }

  set(url: string, name: string, value: string, path = "/"): void {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map<string, { value: string; path: string }>();
    cookies.set(name, { value, path });
    this.jar.set(host, cookies);
  }

  /** fetch without following redirects, sending and keeping this host's cookies. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.store(url, res);
    return res;
  }
}

/**
 * Signs in through the runner's /auth/login: the provider's login form, its
 * consent form, back to the runner's callback. Returns the last answer (the
 * runner's redirect after the callback).
 */
export async function signIn(jar: CookieJar, appUrl: string, login: string): Promise<Response> {
  let url = `${appUrl}/auth/login`;
  for (let hops = 0; hops < 20; hops++) {
    const res = await jar.fetch(url);
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get("location")!, url).href;
      if (new URL(url).origin === appUrl && new URL(next).origin === appUrl && !url.includes("/auth/login"))
        return res; // the runner's own redirect after the callback
      url = next;
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html)?.[1];
    if (!action) throw new Error(`no form at ${url} (${res.status}): ${html.slice(0, 300)}`);
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    const form =
      prompt === "login"
        ? new URLSearchParams({ prompt, login, password: "any" })
        : new URLSearchParams({ prompt: prompt ?? "consent" });
    const post = await jar.fetch(new URL(action, url).href, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    url = new URL(post.headers.get("location")!, url).href;
  }
  throw new Error("sign-in did not finish in 20 steps");
}
