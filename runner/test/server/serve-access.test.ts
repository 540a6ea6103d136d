/**
 * Identity and access on `opsc serve` as a process: a real OpenID provider on
 * 127.0.0.77, the runner on 127.0.0.1, a Git smart-HTTP remote holding
 * access.yaml, personal tokens made with the `opsc tokens` CLI, and GitLab and
 * Gitea push deliveries.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStore } from "../../src/tokens/token-store.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { CookieJar, signIn, startOidcProvider, type TestProvider } from "../helpers/oidc-provider.js";
import { OPSC, remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";

const SECRET = "access-webhook-secret";
const BOOTSTRAP = "access-bootstrap-token";
const CLIENT_SECRET = "oidc-client-secret-planted";

const POLICY = `roles:
  viewer: { view: ["*"] }
  operator: { view: ["*"], run: ["deploy/*"] }
  admin: { view: ["*"], run: ["*"], admin: true }
members:
  - { user: alice@example.com, roles: [operator] }
  - { user: viewer@example.com, roles: [viewer] }
  - { user: ci@example.com, roles: [operator] }
  - { group: ops-admins, roles: [admin] }
`;

const dirs: string[] = [];
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
const git = (dir: string, ...args: string[]) =>
  execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();

let remote: GitHttpServer;
let provider: TestProvider;
let serve: ServeProcess;
let state: string;
let home: string;
let base: string;
const repo = new TestRepo();

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function pushRepo(): void {
  git(repo.dir, "push", "-q", "--force", remote.bareDir, "main");
}

/** Async, so the event loop (and fetch's kept-alive sockets) keep running meanwhile. */
async function tokensCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [OPSC, "tokens", ...args, "--state", state],
    {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
    },
  );
  return stdout.trim();
}

const bearer = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  ...extra,
});

const startRun = (token: string, job: string, body = "{}") =>
  fetch(`${serve.url}/api/jobs/${job}/runs`, { method: "POST", headers: bearer(token), body });

beforeAll(async () => {
  remote = await startGitHttpServer();
  base = repo.commit({
    ...BASE_FILES,
    "access.yaml": POLICY,
    "jobs/deploy/web.yaml": jobYaml("on:\n  manual: true", "echo deploy"),
    "jobs/other.yaml": jobYaml("on:\n  push: { branches: [main] }", "echo other"),
  });
  pushRepo();
  git(remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main");
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  provider = await startOidcProvider({
    clientId: "opsc",
    clientSecret: CLIENT_SECRET,
    redirectUri: `${appUrl}/auth/callback`,
    groups: { "root@example.com": ["ops-admins"] },
  });
  state = tmp("opsc-access-state-");
  home = tmp("opsc-access-home-");
  serve = await startServe(["--repo", remote.url, "--state", state, "--port", String(port)], {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    OPSC_LOG_LEVEL: "info",
    OPSC_WEBHOOK_SECRET: SECRET,
    OPSC_API_TOKEN: BOOTSTRAP,
    OPSC_OIDC_ISSUER: provider.issuer,
    OPSC_OIDC_CLIENT_ID: "opsc",
    OPSC_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OPSC_PUBLIC_URL: appUrl,
  });
}, 60_000);

afterAll(async () => {
  if (serve?.proc.exitCode === null) {
    serve.proc.kill("SIGTERM");
    await serve.exited;
  }
  await provider?.close();
  await remote?.close();
  repo.remove();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function me(jar: CookieJar): Promise<Response> {
  return jar.fetch(`${serve.url}/api/me`);
}

describe("signing in with OpenID Connect", () => {
  it("a member gets a session and /api/me with their roles", async () => {
    const jar = new CookieJar();
    const done = await signIn(jar, serve.url, "alice@example.com");
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/api/me");
    const cookies = done.headers.getSetCookie().join("\n");
    expect(cookies).toMatch(/opsc_at=[^;]+;.*HttpOnly/);
    expect(cookies).toMatch(/opsc_rt=[^;]+;.*Path=\/auth.*HttpOnly.*SameSite=Strict/);
    const res = await me(jar);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user: "alice@example.com", roles: ["operator"], via: "oidc" });
  });

  it("a group member gets the group's roles; a non-member gets no permissions", async () => {
    const root = new CookieJar();
    await signIn(root, serve.url, "root@example.com");
    expect(await (await me(root)).json()).toMatchObject({ roles: ["admin"], groups: ["ops-admins"] });
    const eve = new CookieJar();
    await signIn(eve, serve.url, "eve@example.com");
    const res = await me(eve);
    expect(await res.json()).toMatchObject({ user: "eve@example.com", roles: [], may: { view: false } });
    const runs = await eve.fetch(`${serve.url}/api/runs`);
    expect(runs.status).toBe(403);
    expect(await runs.json()).toMatchObject({ missing: "view" });
  });

  it("refresh rotates the tokens; a reused refresh token ends the session", async () => {
    const jar = new CookieJar();
    await signIn(jar, serve.url, "alice@example.com");
    const oldRefresh = jar.get(serve.url, "opsc_rt")!;
    const refreshed = await jar.fetch(`${serve.url}/auth/refresh`, { method: "POST" });
    expect(refreshed.status).toBe(200);
    const newRefresh = jar.get(serve.url, "opsc_rt")!;
    expect(newRefresh).not.toBe(oldRefresh);
    expect((await me(jar)).status).toBe(200);
    // Someone replays the old one: the whole session ends, the new tokens too.
    const thief = new CookieJar();
    thief.set(serve.url, "opsc_rt", oldRefresh, "/auth");
    expect((await thief.fetch(`${serve.url}/auth/refresh`, { method: "POST" })).status).toBe(401);
    expect((await me(jar)).status).toBe(401);
    expect((await jar.fetch(`${serve.url}/auth/refresh`, { method: "POST" })).status).toBe(401);
  });

  it("logout needs the CSRF token and ends the session", async () => {
    const jar = new CookieJar();
    await signIn(jar, serve.url, "alice@example.com");
    const { csrf } = (await (await me(jar)).json()) as { csrf: string };
    const access = jar.get(serve.url, "opsc_at")!;
    expect((await jar.fetch(`${serve.url}/auth/logout`, { method: "POST" })).status).toBe(403);
    const wrong = await jar.fetch(`${serve.url}/auth/logout`, {
      method: "POST",
      headers: { "x-csrf-token": `${csrf}x` },
    });
    expect(wrong.status).toBe(403);
    // A state-changing API call with the cookie and no CSRF token is refused too.
    const run = await jar.fetch(`${serve.url}/api/jobs/deploy/web/runs`, { method: "POST", body: "{}" });
    expect(run.status).toBe(403);
    const out = await jar.fetch(`${serve.url}/auth/logout`, {
      method: "POST",
      headers: { "x-csrf-token": csrf },
    });
    expect(out.status).toBe(200);
    const replay = new CookieJar();
    replay.set(serve.url, "opsc_at", access);
    expect((await me(replay)).status).toBe(401);
  });

  it("refuses a tampered cookie, a forged access token and an expired one", async () => {
    const jar = new CookieJar();
    await signIn(jar, serve.url, "alice@example.com");
    const access = jar.get(serve.url, "opsc_at")!;
    const [h, p, s] = access.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const tampered = new CookieJar();
    const changed = Buffer.from(JSON.stringify({ ...claims, sub: "root@example.com" })).toString("base64url");
    tampered.set(serve.url, "opsc_at", `${h}.${changed}.${s}`);
    expect((await me(tampered)).status).toBe(401);
    const forged = new CookieJar();
    const other = new TextEncoder().encode("x".repeat(32));
    forged.set(
      serve.url,
      "opsc_at",
      await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(other),
    );
    expect((await me(forged)).status).toBe(401);
    // Signed with the server's own key, but past its expiry.
    const key = new Uint8Array(readFileSync(join(state, "server/session-key")));
    const now = Math.floor(Date.now() / 1000);
    const expired = new CookieJar();
    expired.set(
      serve.url,
      "opsc_at",
      await new SignJWT({ ...claims, iat: now - 900, exp: now - 600 })
        .setProtectedHeader({ alg: "HS256" })
        .sign(key),
    );
    expect((await me(expired)).status).toBe(401);
    // The same claims with a fresh expiry pass: the test's token shape is right.
    const fresh = new CookieJar();
    fresh.set(
      serve.url,
      "opsc_at",
      await new SignJWT({ ...claims, iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: "HS256" })
        .sign(key),
    );
    expect((await me(fresh)).status).toBe(200);
  });
});

describe("personal tokens", () => {
  let viewerToken: string;
  let ciToken: string;

  beforeAll(async () => {
    viewerToken = await tokensCli("create", "--user", "viewer@example.com", "--name", "viewer-laptop");
    ciToken = await tokensCli(
      "create",
      "--user",
      "ci@example.com",
      "--name",
      "ci-deploy",
      "--expires",
      "90d",
    );
  });

  it("the CLI prints a token once and stores only its hash", async () => {
    expect(ciToken).toMatch(/^opsc_[A-Za-z0-9_-]{40,}$/);
    const stored = readFileSync(join(state, "server/tokens.json"), "utf8");
    expect(stored).not.toContain(ciToken);
    expect(await tokensCli("list")).toMatch(/ci-deploy\s+ci@example.com\s+\S+\s+\S+\s+live/);
  });

  it("a viewer's token gets 403 starting a job; an operator's 202 and the record names that user", async () => {
    const refused = await startRun(viewerToken, "deploy/web");
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ missing: "run", job: "deploy/web" });
    const me = await (await fetch(`${serve.url}/api/me`, { headers: bearer(ciToken) })).json();
    expect(me).toEqual({
      user: "ci@example.com",
      roles: ["operator"],
      via: "token",
      token: "ci-deploy",
      may: { admin: false, view: true },
    });
    const res = await startRun(ciToken, "deploy/web");
    expect(res.status).toBe(202);
    await eventually(
      () => remoteRuns(remote).some((r) => r.job === "deploy/web" && r.result === "success"),
      30_000,
    );
    const run = remoteRuns(remote).find((r) => r.job === "deploy/web" && r.result === "success")!;
    expect(run.actor).toBe("ci@example.com");
    expect(run.trigger).toMatchObject({
      kind: "api",
      by: { name: "ci@example.com", via: "token", token: "ci-deploy" },
    });
    // The refused request is in the audit trail too.
    await eventually(() =>
      remoteRuns(remote).some(
        (r) => (r.trigger as { detail?: Record<string, string> }).detail?.event === "run.refused",
      ),
    );
  });

  it("a body actor gets 400", async () => {
    const res = await startRun(ciToken, "deploy/web", JSON.stringify({ actor: "someone-else" }));
    expect(res.status).toBe(400);
  });

  it("a revoked or expired token gets 401", async () => {
    const short = await tokensCli("create", "--user", "ci@example.com", "--name", "short");
    expect(await tokensCli("revoke", "short")).toMatch(/revoked/);
    expect((await fetch(`${serve.url}/api/me`, { headers: bearer(short) })).status).toBe(401);
    const { token } = new TokenStore(state).create({
      name: "expired",
      user: "ci@example.com",
      createdBy: "test",
      expiresInMs: 1,
      now: new Date(Date.now() - 1000),
    });
    expect((await fetch(`${serve.url}/api/me`, { headers: bearer(token) })).status).toBe(401);
  });

  it("admins manage tokens through the API; others get 403", async () => {
    expect((await fetch(`${serve.url}/api/tokens`, { headers: bearer(ciToken) })).status).toBe(403);
    const created = await fetch(`${serve.url}/api/tokens`, {
      method: "POST",
      headers: bearer(BOOTSTRAP),
      body: JSON.stringify({ name: "api-made", user: "viewer@example.com", expiresInDays: 1 }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    expect((await fetch(`${serve.url}/api/me`, { headers: bearer(token) })).status).toBe(200);
    const del = await fetch(`${serve.url}/api/tokens/api-made`, {
      method: "DELETE",
      headers: bearer(BOOTSTRAP),
    });
    expect(del.status).toBe(200);
    expect((await fetch(`${serve.url}/api/me`, { headers: bearer(token) })).status).toBe(401);
  });

  it("tokens created and revoked with the CLI while the server runs are audit lines; API ones once", async () => {
    await tokensCli("create", "--user", "viewer@example.com", "--name", "cli-audited");
    expect(await tokensCli("revoke", "cli-audited")).toMatch(/revoked/);
    type Line = { job: string; actor: string; trigger: { by?: unknown; detail?: Record<string, string> } };
    const auditLines = (): Line[] => {
      let files: string[];
      try {
        files = git(remote.bareDir, "ls-tree", "-r", "--name-only", "opsconductor/runs", "audit").split("\n");
      } catch {
        return [];
      }
      return files
        .filter((f) => f.endsWith(".jsonl"))
        .flatMap((f) => git(remote.bareDir, "show", `opsconductor/runs:${f}`).split("\n"))
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Line);
    };
    const about = (token: string) =>
      auditLines()
        .filter((l) => l.trigger.detail?.token === token)
        .map((l) => l.trigger.detail?.event);
    await eventually(() => about("cli-audited").length === 2, 30_000);
    const lines = auditLines().filter((l) => l.trigger.detail?.token === "cli-audited");
    expect(lines.map((l) => [l.job, l.actor, l.trigger.by, l.trigger.detail?.event])).toEqual([
      ["opsc:access", "cli", { name: "cli", via: "cli" }, "token.created"],
      ["opsc:access", "cli", { name: "cli", via: "cli" }, "token.revoked"],
    ]);
    expect(lines[0]!.trigger.detail).toMatchObject({ user: "viewer@example.com", source: "token file" });
    // The tokens made by the CLI earlier in this file, and the API's own (recorded once, by the admin).
    await eventually(() => about("short").length === 2 && about("api-made").length === 2, 30_000);
    expect(about("ci-deploy")).toEqual(["token.created"]);
    expect(about("api-made")).toEqual(["token.created", "token.revoked"]);
    expect(
      auditLines()
        .filter((l) => l.trigger.detail?.token === "api-made")
        .map((l) => l.trigger.by),
    ).toEqual([
      { name: "bootstrap", via: "bootstrap-token" },
      { name: "bootstrap", via: "bootstrap-token" },
    ]);
  });

  it("a change to access.yaml on the default branch applies without a restart; a broken one keeps the last good policy", async () => {
    repo.commit({
      "access.yaml": POLICY.replace(
        "viewer@example.com, roles: [viewer]",
        "viewer@example.com, roles: [operator]",
      ),
    });
    pushRepo();
    // Starting a run fetches first, so the new policy is read at the new head.
    expect((await startRun(viewerToken, "deploy/web")).status).toBe(202);
    repo.commit({ "access.yaml": "roles:\n  viewer: { view: '*' }\nmembers: []\n" });
    pushRepo();
    expect((await startRun(viewerToken, "deploy/web")).status).toBe(202);
    expect(serve.lines.some((l) => l.includes("the last good policy stays in force"))).toBe(true);
  });

  it("the bootstrap token is recorded as such; no secret reaches the logs", async () => {
    const res = await fetch(`${serve.url}/api/me`, { headers: bearer(BOOTSTRAP) });
    expect(await res.json()).toMatchObject({ user: "bootstrap", via: "bootstrap-token", roles: ["admin"] });
    const log = serve.lines.join("\n");
    for (const secret of [BOOTSTRAP, CLIENT_SECRET, ciToken, viewerToken, SECRET])
      expect(log).not.toContain(secret);
  });
});

describe("forge push webhooks", () => {
  const fixture = (name: string, after: string) => {
    const p = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", name), "utf8")) as Record<
      string,
      unknown
    >;
    return JSON.stringify({ ...p, before: base, after, ref: "refs/heads/main", checkout_sha: after });
  };
  const head = () => git(remote.bareDir, "rev-parse", "refs/heads/main");
  beforeAll(() => {
    // The tests before left a broken access.yaml; a repository that does not validate runs nothing on push.
    repo.commit({ "access.yaml": POLICY });
    pushRepo();
  });
  const byForge = (via: string) =>
    remoteRuns(remote).filter((r) => (r.trigger as { by?: { via?: string } }).by?.via === via);

  it("GitLab: the secret token is required; the pusher is the actor", async () => {
    const body = fixture("gitlab-push.json", head());
    const send = (token?: string) =>
      fetch(`${serve.url}/webhooks/gitlab`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gitlab-event": "Push Hook",
          "x-gitlab-event-uuid": "0e4f7c2a-3b1d-4c55-9a07-6f2d1b8e9a11",
          ...(token ? { "x-gitlab-token": token } : {}),
        },
        body,
      });
    expect((await send()).status).toBe(401);
    expect((await send("wrong")).status).toBe(401);
    expect((await send(SECRET)).status).toBe(202);
    await eventually(() => byForge("gitlab").length > 0, 30_000);
    expect(byForge("gitlab")[0]).toMatchObject({
      job: "other",
      actor: "gitlab:jsmith",
      trigger: { by: { name: "jsmith" } },
    });
  });

  it("Gitea: the body's HMAC is required; the pusher is the actor", async () => {
    const body = fixture("gitea-push.json", head());
    const send = (signature?: string) =>
      fetch(`${serve.url}/webhooks/gitea`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-gitea-event": "push",
          "x-gitea-delivery": "9d3b1f0e-2f7e-4e0b-8d7b-3c1a2b4d5e6f",
          ...(signature ? { "x-gitea-signature": signature } : {}),
        },
        body,
      });
    expect((await send()).status).toBe(401);
    expect((await send(createHmac("sha256", "wrong").update(body).digest("hex"))).status).toBe(401);
    expect((await send(createHmac("sha256", SECRET).update(body).digest("hex"))).status).toBe(202);
    await eventually(() => byForge("gitea").length > 0, 30_000);
    expect(byForge("gitea")[0]).toMatchObject({
      job: "other",
      actor: "gitea:gitea",
      trigger: { by: { name: "gitea" } },
    });
  });
});
