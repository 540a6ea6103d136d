/**
 * The dashboard signed in the way people sign in: headless Chromium opens the
 * dashboard of `opsc serve` (a process on 127.0.0.1 with OIDC settings), is
 * sent to a real OpenID provider (`oidc-provider` on 127.0.0.77, its own login
 * and consent pages), fills them in and comes back signed in. Roles come from
 * access.yaml (a user entry and a group entry). The Targets page's health check
 * connects to a real OpenSSH sshd on loopback with a SOPS/age credential.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Browser, BrowserContext, ElementHandle, HTTPRequest, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_FILES, TestRepo } from "../helpers/automation-repo.js";
import { chromiumPath, launchBrowser, seriousViolations } from "../helpers/browser.js";
import { eventually } from "../helpers/fake-executor.js";
import { startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";
import { PROVIDER_HOST, startOidcProvider, type TestProvider } from "../helpers/oidc-provider.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";
import { remoteRuns, startServe, type ServeProcess } from "../helpers/serve-process.js";
import { sopsSshCredential } from "../helpers/sops-credential.js";
import { SSHD_PATH, startSshd, type Sshd } from "../helpers/sshd.js";
import { scratchFolders } from "../helpers/scratch.js";

const BOOTSTRAP = "sign-in-bootstrap-token";
const CLIENT_SECRET = "sign-in-oidc-client-secret-planted";
const WEBHOOK_SECRET = "sign-in-webhook-secret";
const SSH_UP = "127.0.0.41";
// Nothing listens there: connecting is refused at once.
const SSH_DOWN = "127.0.0.42";
// Accepts connections and never says a word: a hung host.
const SILENT = "127.0.0.43";
const UPDATE_SCREENSHOTS = process.env.OPSC_UPDATE_SCREENSHOTS === "1";
const browserPath = chromiumPath();

const POLICY = `roles:
  viewer: { view: ["*"] }
  deployer: { view: ["*"], run: ["deploy", "silent"] }
  operator: { view: ["*"], run: ["deploy", "ping"] }
members:
  - { user: alice@example.com, roles: [operator] }
  - { user: dora@example.com, roles: [deployer] }
  - { group: watchers, roles: [viewer] }
`;

const { tmp } = scratchFolders();
const IMAGES = UPDATE_SCREENSHOTS ? join(PROJECT_ROOT, "docs/images") : tmp("opsc-screenshots-");
const repo = new TestRepo();
let remote: GitHttpServer;
let provider: TestProvider;
let serve: ServeProcess;
let sshd: Sshd;
let silent: Server;
const held = new Set<Socket>();
let browser: Browser;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const text = (page: Page, selector: string): Promise<string> =>
  page.$eval(selector, (e) => e.textContent ?? "").catch(() => "");

async function waitForText(page: Page, selector: string, wanted: string, timeout = 20_000): Promise<void> {
  await page
    .waitForFunction(
      (sel, w) => Array.from(document.querySelectorAll(sel)).some((e) => (e.textContent ?? "").includes(w)),
      { timeout, polling: 100 },
      selector,
      wanted,
    )
    .catch(async (e: Error) => {
      throw new Error(
        `${e.message}: no "${wanted}" in ${selector} at ${page.url()}; the page shows: ${await text(page, "body")}`,
      );
    });
}

/** A fresh browser profile (its own cookies) whose requests stay on loopback. */
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.setRequestInterception(true);
  page.on("request", (req: HTTPRequest) => {
    const host = new URL(req.url()).hostname;
    if (req.url().startsWith("data:") || /^127\.\d+\.\d+\.\d+$/.test(host)) void req.continue();
    // The provider's own pages ask for a web font on the Internet: never sent.
    else void req.abort();
  });
  return { context, page };
}

/**
 * Opens the dashboard, follows it to the provider, fills in the provider's
 * login form (any password is accepted by its development pages) and its
 * consent form, and waits to be back on the dashboard, signed in.
 */
async function signInThroughBrowser(page: Page, login: string, path = "/runs"): Promise<void> {
  await page.goto(`${serve.url}${path}`);
  const field = await page.waitForSelector('input[name="login"]', { timeout: 20_000 });
  expect(new URL(page.url()).hostname).toBe(PROVIDER_HOST);
  await field!.type(login);
  await page.type('input[name="password"]', "any password");
  await Promise.all([page.waitForNavigation({ timeout: 20_000 }), page.click('button[type="submit"]')]);
  await page.waitForSelector('input[name="prompt"][value="consent"]', { timeout: 20_000 });
  await Promise.all([page.waitForNavigation({ timeout: 20_000 }), page.click('button[type="submit"]')]);
  await waitForText(page, '[data-testid="signed-in-user"]', login);
  expect(page.url()).toBe(`${serve.url}${path}`);
}

/** A call from the signed-in page itself: its session cookie, and its CSRF token on writes. */
async function fromPage(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return page.evaluate(
    async (m, p, b) => {
      const me = (await (await fetch("/api/me")).json()) as { csrf?: string };
      const res = await fetch(p, {
        method: m,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf ?? "" },
        ...(b === undefined ? {} : { body: b }),
      });
      return { status: res.status, text: await res.text() };
    },
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
  );
}

async function axeAfterLoad(page: Page, path: string, title: string): Promise<unknown[]> {
  await page.goto(`${serve.url}${path}`);
  await waitForText(page, "h1", title);
  await page.waitForFunction(() => !document.querySelector('[role="status"]'), { timeout: 20_000 });
  // The launch form, where offered, once the server's first check of its inputs has answered.
  if (await page.$('[data-testid="launch"]'))
    await page.waitForSelector('[data-testid="launch"]:not([disabled])', { timeout: 20_000 });
  return seriousViolations(page);
}

describe.skipIf(!browserPath || !SSHD_PATH)("signing in to the dashboard through the OpenID provider", () => {
  beforeAll(async () => {
    remote = await startGitHttpServer();
    sshd = await startSshd([SSH_UP]);
    silent = createServer((sock) => {
      held.add(sock);
      sock.on("close", () => held.delete(sock));
    });
    await new Promise<void>((r) => silent.listen(0, SILENT, r));
    const { credential, identity } = await sopsSshCredential(sshd.clientKey);
    const keys = tmp("opsc-sign-in-keys-");
    writeFileSync(join(keys, "keys.txt"), `${identity}\n`, { mode: 0o600 });
    repo.commit({
      ...BASE_FILES,
      "access.yaml": POLICY,
      "credentials/lab.sops.yaml": credential,
      "targets/lab.yaml": [
        `defaults: { port: ${sshd.port}, user: ${sshd.user}, host_key: "${sshd.hostKey}", credential: lab/ssh, labels: { role: web } }`,
        "targets:",
        `  web-up: { host: ${SSH_UP} }`,
        `  web-down: { host: ${SSH_DOWN} }`,
        `  web-silent: { host: ${SILENT}, port: ${(silent.address() as AddressInfo).port}, labels: { role: hung } }`,
        "",
      ].join("\n"),
      "jobs/deploy.yaml": [
        "description: Deploys a version",
        "on:\n  manual: true",
        'inputs:\n  version: { type: string, pattern: "^v[0-9]+$" }',
        "targets: { names: [here] }",
        "steps:\n  - id: main\n    run: echo deploying",
        "",
      ].join("\n"),
      "jobs/silent.yaml": [
        "on:\n  manual: true",
        "targets: { names: [web-silent] }",
        "steps:\n  - id: main\n    run: 'true'",
        "",
      ].join("\n"),
      "jobs/ping.yaml": [
        "description: Runs true on the web targets",
        "on:\n  manual: true",
        "targets: { match: { role: web } }",
        "steps:\n  - id: main\n    run: 'true'",
        "",
      ].join("\n"),
    });
    execFileSync("git", ["-C", repo.dir, "push", "-q", "--force", remote.bareDir, "main"]);
    execFileSync("git", ["-C", remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);
    const port = await freePort();
    const appUrl = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider({
      clientId: "opsc",
      clientSecret: CLIENT_SECRET,
      redirectUri: `${appUrl}/auth/callback`,
      groups: { "vera@example.com": ["watchers"] },
    });
    serve = await startServe(
      ["--repo", remote.url, "--state", tmp("opsc-sign-in-state-"), "--port", String(port)],
      {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: tmp("opsc-sign-in-home-"),
        OPSC_LOG_LEVEL: "info",
        OPSC_WEBHOOK_SECRET: WEBHOOK_SECRET,
        OPSC_API_TOKEN: BOOTSTRAP,
        OPSC_OIDC_ISSUER: provider.issuer,
        OPSC_OIDC_CLIENT_ID: "opsc",
        OPSC_OIDC_CLIENT_SECRET: CLIENT_SECRET,
        OPSC_PUBLIC_URL: appUrl,
        SOPS_AGE_KEY_FILE: join(keys, "keys.txt"),
      },
    );
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (serve?.proc.exitCode === null) {
      serve.proc.kill("SIGTERM");
      await serve.exited;
    }
    await provider?.close();
    await remote?.close();
    await sshd?.stop();
    for (const sock of held) sock.destroy();
    await new Promise((r) => (silent ? silent.close(r) : r(undefined)));
    repo.remove();
  });

  let alice: { context: BrowserContext; page: Page };

  it("sends a browser without a session to the provider's pages and back, signed in, its name shown", async () => {
    // Without an identity the API says where to sign in; the page goes there.
    const anonymous = await fetch(`${serve.url}/api/me`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ signIn: "/auth/login" });
    alice = await newPage();
    // A browser with no session goes to sign in without trying to renew one (that would count as a failure).
    const refreshes: string[] = [];
    alice.page.on("request", (r) => {
      if (r.url().endsWith("/auth/refresh")) refreshes.push(r.url());
    });
    await signInThroughBrowser(alice.page, "alice@example.com");
    expect(refreshes).toEqual([]);
    const { page } = alice;
    expect(await text(page, '[data-testid="signed-in-user"]')).toBe("alice@example.com (operator)");
    await waitForText(page, "h1", "Runs");
    const cookies = await page.cookies(serve.url);
    expect(cookies.find((c) => c.name === "opsc_at")).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    // A session, not a token: the page holds no bearer token.
    expect(await page.evaluate(() => sessionStorage.getItem("opsc.token"))).toBeNull();
    await page.screenshot({ path: join(IMAGES, "dashboard-signed-in.png") });
  });

  it("lets the operator launch a job; the record names the signed-in user", async () => {
    const { page } = alice;
    await page.goto(`${serve.url}/jobs/deploy`);
    const field = await page.waitForSelector("#root_version", { timeout: 20_000 });
    await field!.type("v7");
    await page.waitForFunction(() => !document.querySelector("form")?.textContent?.includes("must match"), {
      timeout: 10_000,
    });
    // Enabled once the server's first check of the inputs has answered.
    await (await page.waitForSelector('[data-testid="launch"]:not([disabled])', {
      timeout: 20_000,
    }))!.click();
    await page.waitForFunction(() => /^\/runs\/.+/.test(location.pathname), { timeout: 20_000 });
    await waitForText(page, '[data-testid="run-status"]', "success");
    await eventually(() => remoteRuns(remote).some((r) => r.job === "deploy"), 30_000);
    const run = remoteRuns(remote).find((r) => r.job === "deploy")!;
    expect(run.actor).toBe("alice@example.com");
    expect(run.trigger).toMatchObject({ kind: "api", by: { name: "alice@example.com", via: "oidc" } });
  });

  it("filters the runs history by job, result, trigger and actor", async () => {
    const { page } = alice;
    await page.goto(`${serve.url}/runs`);
    const rows = async (): Promise<number> => (await page.$$("[data-record]")).length;
    await page.waitForSelector("[data-record]", { timeout: 20_000 });
    const none = (): Promise<void> => waitForText(page, "main", "No recorded run matches.");
    const some = async (): Promise<void> => {
      await page.waitForSelector("[data-record]", { timeout: 20_000 });
      expect(await rows()).toBe(1);
    };
    const actor = (await page.waitForSelector('::-p-aria([name="Actor"][role="textbox"])'))!;
    await actor.type("bob@example.com");
    await none();
    await actor.click({ count: 3 });
    await actor.type("alice@example.com");
    await some();
    const job = (await page.waitForSelector('::-p-aria([name="Job"][role="textbox"])'))!;
    await job.type("ping");
    await none();
    await job.click({ count: 3 });
    await job.type("deploy");
    await some();
    const choose = async (name: string, value: string): Promise<void> => {
      // MUI names its select by the label and the value shown: found by the label.
      const combo = await page.evaluateHandle(
        (n) =>
          Array.from(document.querySelectorAll("label"))
            .find((l) => l.textContent === n)
            ?.parentElement?.querySelector('[role="combobox"]'),
        name,
      );
      await (combo as ElementHandle<Element>).click();
      // Clicked in the page: a mouse click may land beside the option while the menu still grows open.
      const option = await page.waitForSelector(`li[data-value="${value}"]`);
      await option!.evaluate((e) => (e as HTMLElement).click());
      await page.waitForSelector('[role="listbox"]', { hidden: true });
    };
    await choose("Result", "failure");
    await none();
    await choose("Result", "success");
    await some();
    await choose("Trigger", "schedule");
    await none();
    await choose("Trigger", "api");
    await some();
  });

  it("checks the targets' health from the Targets page: the reachable one ok with its latency, the other with why", async () => {
    const { page } = alice;
    await page.goto(`${serve.url}/targets`);
    await waitForText(page, "h1", "Targets");
    const answer = page.waitForResponse((r) => r.url().endsWith("/api/targets/check"), { timeout: 30_000 });
    await (await page.waitForSelector('[data-testid="check-all"]', { timeout: 20_000 }))!.click();
    const res = await answer;
    expect(res.status()).toBe(200);
    const body = await res.text();
    const { results } = JSON.parse(body) as {
      results: Array<{ target: string; ok: boolean; latencyMs?: number; code?: string; message?: string }>;
    };
    expect(results.map((r) => r.target).sort()).toEqual(["here", "web-down", "web-up"]);
    const up = results.find((r) => r.target === "web-up")!;
    const down = results.find((r) => r.target === "web-down")!;
    expect(up).toMatchObject({ ok: true, latencyMs: expect.any(Number) });
    expect(down).toMatchObject({
      ok: false,
      code: "ssh.unreachable",
      message: `target web-down: cannot reach ${SSH_DOWN}:${sshd.port}: ECONNREFUSED`,
    });
    await waitForText(page, '[data-health="web-up"]', " ms");
    await waitForText(page, '[data-health="web-up"]', "ok");
    await waitForText(page, '[data-health="web-down"]', "unreachable");
    await waitForText(page, '[data-health="web-down"]', down.message!.slice(0, 40));
    await page.screenshot({ path: join(IMAGES, "dashboard-target-health.png") });
    // One target alone, from its row.
    const one = page.waitForResponse((r) => r.url().endsWith("/api/targets/check"), { timeout: 30_000 });
    await page.click('button[aria-label="Check web-up"]');
    expect(JSON.parse(await (await one).text())).toMatchObject({ results: [{ target: "web-up", ok: true }] });
    // The key that logged in is in no answer and no log line.
    const keyLine = sshd.clientKey.split("\n")[1]!;
    for (const secret of [keyLine, CLIENT_SECRET, BOOTSTRAP]) {
      expect(body).not.toContain(secret);
      expect(serve.lines.join("\n")).not.toContain(secret);
    }
  });

  it("has no serious accessibility violations on the dashboard's pages once signed in", async () => {
    const { page } = alice;
    await page.setBypassCSP(true);
    const found: Record<string, unknown> = {};
    for (const [path, title] of [
      ["/runs", "Runs"],
      ["/jobs", "Jobs"],
      ["/jobs/deploy", "Job deploy"],
      ["/targets", "Targets"],
      ["/schedules", "Schedules"],
      ["/audit", "Audit"],
    ] as const) {
      const v = await axeAfterLoad(page, path, title);
      if (v.length > 0) found[path] = v;
    }
    // The Targets page with health results shown.
    await axeAfterLoad(page, "/targets", "Targets");
    await (await page.waitForSelector('[data-testid="check-all"]'))!.click();
    await waitForText(page, '[data-health="web-up"]', " ms", 30_000);
    const withHealth = await seriousViolations(page);
    if (withHealth.length > 0) found["/targets (checked)"] = withHealth;
    expect(JSON.stringify(found, null, 1)).toBe("{}");
    // At phone width the header (name, sign out) and the results fit; the table scrolls in its box.
    await page.setViewport({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(
      await page.$eval('[data-testid="sign-out"]', (e) => e.getBoundingClientRect().right),
    ).toBeLessThanOrEqual(390);
    await page.setViewport({ width: 1280, height: 800 });
  });

  it("renews the session by itself when the access token is gone (as after its 5 minutes)", async () => {
    const { page } = alice;
    await page.goto(`${serve.url}/runs`);
    await waitForText(page, '[data-testid="signed-in-user"]', "alice@example.com");
    const before = (await page.cookies(serve.url)).find((c) => c.name === "opsc_at")!;
    // A mark on this document: had the page gone to sign in, the document would be a new one.
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
    await page.deleteCookie({ name: "opsc_at", url: serve.url });
    await (await page.waitForSelector('nav a[href="/jobs"]'))!.click();
    await waitForText(page, "h1", "Jobs");
    await waitForText(page, "main", "Deploys a version");
    const after = (await page.cookies(serve.url)).find((c) => c.name === "opsc_at");
    expect(after?.value).toBeDefined();
    expect(after!.value).not.toBe(before.value);
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  });

  it("signs out: the session ends, its cookies go, and the API answers 401", async () => {
    const { page, context } = alice;
    await page.goto(`${serve.url}/runs`);
    await (await page.waitForSelector('[data-testid="sign-out"]', { timeout: 20_000 }))!.click();
    await waitForText(page, '[data-testid="signed-out"]', "Signed out");
    expect(await page.$('[data-testid="signed-in-user"]')).toBeNull();
    const names = (await page.cookies(serve.url)).map((c) => c.name);
    expect(names).not.toContain("opsc_at");
    expect(await page.evaluate(async () => (await fetch("/api/me")).status)).toBe(401);
    expect(await page.evaluate(async () => (await fetch("/auth/refresh", { method: "POST" })).status)).toBe(
      401,
    );
    await context.close();
  });

  it("a viewer (by an OIDC group) signed in the same way is offered no launch and no health check; the API answers 403", async () => {
    const { page, context } = await newPage();
    await signInThroughBrowser(page, "vera@example.com", "/jobs/deploy");
    expect(await text(page, '[data-testid="signed-in-user"]')).toBe("vera@example.com (viewer)");
    await waitForText(page, "main", "You may view this job but not run it");
    expect(await page.$('[data-testid="launch"]')).toBeNull();
    await page.setBypassCSP(true);
    const found: Record<string, unknown> = {};
    const onJob = await axeAfterLoad(page, "/jobs/deploy", "Job deploy");
    if (onJob.length > 0) found["/jobs/deploy"] = onJob;
    const onTargets = await axeAfterLoad(page, "/targets", "Targets");
    if (onTargets.length > 0) found["/targets"] = onTargets;
    expect(JSON.stringify(found, null, 1)).toBe("{}");
    await waitForText(page, '[data-target="web-up"]', "web-up");
    expect(await page.$('[data-testid="check-all"]')).toBeNull();
    expect(await page.$('button[aria-label^="Check "]')).toBeNull();

    const run = await fromPage(page, "POST", "/api/jobs/deploy/runs", { inputs: { version: "v1" } });
    expect(run.status).toBe(403);
    expect(JSON.parse(run.text)).toMatchObject({ missing: "run", job: "deploy" });
    const check = await fromPage(page, "POST", "/api/targets/check", { targets: ["web-up"] });
    expect(check.status).toBe(403);
    expect(JSON.parse(check.text)).toMatchObject({ missing: "run", target: "web-up" });
    expect((await fromPage(page, "POST", "/api/targets/check", {})).status).toBe(403);
    // What the page fetched for itself is allowed: the viewer still sees the targets.
    expect((await fromPage(page, "GET", "/api/targets")).status).toBe(200);
    await context.close();
  });

  it("the health check is per target: a role that may run one job checks only that job's targets", async () => {
    const created = await fetch(`${serve.url}/api/tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${BOOTSTRAP}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "dora-laptop", user: "dora@example.com" }),
    });
    expect(created.status).toBe(201);
    const { token } = (await created.json()) as { token: string };
    const call = (path: string, body?: unknown) =>
      fetch(`${serve.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const { targets } = (await (await call("/api/targets")).json()) as {
      targets: Array<{ id: string; mayCheck: boolean }>;
    };
    expect(Object.fromEntries(targets.map((t) => [t.id, t.mayCheck]))).toEqual({
      here: true,
      "web-silent": true,
      "web-down": false,
      "web-up": false,
    });
    const refused = await call("/api/targets/check", { targets: ["web-up"] });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ missing: "run", target: "web-up" });
    const mine = await call("/api/targets/check", { targets: ["here"] });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual({
      results: [expect.objectContaining({ target: "here", ok: true, latencyMs: expect.any(Number) })],
    });
    // A hung host holds a check until its timeout; meanwhile the same caller's next check is refused.
    const logged = () => serve.lines.filter((l) => l.includes("targets health check")).length;
    const before = logged();
    const slow = call("/api/targets/check", {});
    await eventually(() => logged() > before, 20_000);
    const again = await call("/api/targets/check", { targets: ["here"] });
    expect(again.status).toBe(429);
    const { results } = (await (await slow).json()) as { results: Array<Record<string, unknown>> };
    expect(Object.fromEntries(results.map((r) => [r.target, r.ok]))).toEqual({
      here: true,
      "web-silent": false,
    });
    expect(results.find((r) => r.target === "web-silent")).toMatchObject({
      code: "ssh.unreachable",
      message: expect.stringMatching(/^target web-silent: .+ did not finish connecting within 10000 ms$/),
    });
    expect((await call("/api/targets/check", { targets: ["here"] })).status).toBe(200);
    expect((await call("/api/targets/check", { targets: ["nowhere"] })).status).toBe(404);
    expect((await call("/api/targets/check", { targets: "here" })).status).toBe(400);
  });
});
