import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/server/clock.js";
import { startServer, type RunningServer, type ServerOptions } from "../../src/server/start-server.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { createLogger } from "../../src/server/server-logger.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { FakeExecutor, eventually } from "../helpers/fake-executor.js";
import { delivery, examplePayload, send, sign } from "../helpers/github-delivery.js";
import { Writable } from "node:stream";
import { createHmac } from "node:crypto";
import { gzipSync } from "node:zlib";

const SECRET = "webhook-secret-for-tests";
const TOKEN = "api-token-for-tests";
const HOOK_SECRET = "hook-secret-of-deploy";

const repo = new TestRepo();
const c1 = repo.commit({
  ...BASE_FILES,
  "jobs/web.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/**"] }`),
  "jobs/deploy.yaml": jobYaml(
    `on:\n  webhook: { types: [deploy], secret: hooks/deploy.secret }\ninputs:\n  version: { type: string, pattern: "^v[0-9]+$" }`,
  ),
  "jobs/locked.yaml": jobYaml(`on:\n  manual: false`),
  // Only its shape matters to the loader here; the secret itself comes from the injected resolveSecret.
  "credentials/hooks.sops.yaml":
    'deploy:\n  secret: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n  lastmodified: "2026-01-01T00:00:00Z"\n  version: 3.10.2\n',
});
const c2 = repo.commit({ "steps/x.yaml": "run: echo x\n" });

let state: string;
let server: RunningServer | undefined;
const executor = new FakeExecutor();
const logLines: string[] = [];

async function start(extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const redactor = new Redactor();
  server = await startServer({
    repo: repo.dir,
    state,
    port: 0,
    webhookSecret: SECRET,
    apiToken: TOKEN,
    executor: executor.run,
    claims: false,
    useNodeCron: false,
    push: false,
    redactor,
    logger: createLogger({
      redactor,
      pretty: false,
      destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }),
    }),
    resolveSecret: async (_dir, _commit, ref) => (ref === "hooks/deploy.secret" ? HOOK_SECRET : undefined),
    ...extra,
  });
  return server;
}

const states: string[] = [];
// A state directory per test: deliveries seen by one test (the same push, say) are not duplicates in the next.
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), "opsc-state-"));
  states.push(state);
});
afterEach(async () => {
  await server?.close(0);
  server = undefined;
  executor.requests.length = 0;
  executor.hold = false;
  logLines.length = 0;
});
afterAll(() => {
  repo.remove();
  for (const d of states) rmSync(d, { recursive: true, force: true });
});

const pushPayload = () =>
  examplePayload("push", { ref: "refs/heads/main", before: c1, after: c2, deleted: false, created: false });

describe("POST /webhooks/github", () => {
  it("answers ping with 200", async () => {
    const s = await start();
    const res = await send(s.url, delivery("ping", examplePayload("ping")), SECRET);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it("refuses a missing or wrong signature with 401 and runs nothing", async () => {
    const s = await start();
    const d = delivery("push", pushPayload());
    expect((await send(s.url, d, null)).status).toBe(401);
    const wrong = await send(s.url, d, "not-the-secret");
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/X-Hub-Signature-256/);
    await s.service.settled();
    expect(executor.requests).toEqual([]);
    // The refused attempts did not burn the delivery id: the genuine one still runs.
    expect((await send(s.url, d, SECRET)).status).toBe(202);
    await eventually(() => executor.requests.length === 1);
  });

  it("runs the job a push selects, at the pushed commit, after answering 202", async () => {
    const s = await start();
    executor.hold = true;
    const res = await send(s.url, delivery("push", pushPayload()), SECRET);
    expect(res.status).toBe(202);
    await eventually(() => executor.requests.length === 1);
    expect(executor.requests[0]).toMatchObject({
      job: "web",
      commit: c2,
      ref: "refs/heads/main",
      push: false,
    });
    expect(executor.requests[0]!.trigger.kind).toBe("push");
    // The run gets the repository the push was resolved with, at that commit: not loaded twice.
    expect(executor.requests[0]!.repo?.files.commit).toBe(c2);
    expect(executor.requests[0]!.repo?.model.jobs.has("web")).toBe(true);
    executor.release();
    await s.service.queue.idle();
  });

  it("runs one delivery sent 10 times once, also after a restart", async () => {
    let s = await start();
    const d = delivery("push", pushPayload());
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(s.url, d, SECRET)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    await s.service.settled();
    await s.service.queue.idle();
    expect(executor.jobs()).toEqual(["web"]);
    await s.close(0);
    s = await start();
    const again = await send(s.url, d, SECRET);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    await s.service.settled();
    expect(executor.jobs()).toEqual(["web"]);
  });

  it("refuses a body above the limit with 413", async () => {
    const s = await start({ bodyLimit: 2048 });
    const big = delivery("push", { ...pushPayload(), padding: "x".repeat(4096) });
    const res = await send(s.url, big, SECRET);
    expect(res.status).toBe(413);
    expect(executor.requests).toEqual([]);
  });

  it("repository_dispatch runs jobs accepting the type, with client_payload as validated inputs", async () => {
    const s = await start();
    const ok = examplePayload("repository_dispatch", {
      action: "deploy",
      branch: "main",
      client_payload: { version: "v42" },
    });
    expect((await send(s.url, delivery("repository_dispatch", ok), SECRET)).status).toBe(202);
    await eventually(() => executor.requests.length === 1);
    expect(executor.requests[0]).toMatchObject({ job: "deploy", commit: c2, inputs: { version: "v42" } });

    const bad = examplePayload("repository_dispatch", {
      action: "deploy",
      branch: "main",
      client_payload: { version: "42; rm -rf /" },
    });
    expect((await send(s.url, delivery("repository_dispatch", bad), SECRET)).status).toBe(202);
    await s.service.settled();
    await s.service.queue.idle();
    expect(executor.requests).toHaveLength(1);
    const refused = s.service.runs().find((r) => r.status === "failed" && r.job === "deploy");
    expect(refused?.reason).toMatch(/input "version".*pattern/);
  });
});

describe("POST /hooks/:job", () => {
  it("accepts a body signed with the job's own secret; inputs come from the JSON body", async () => {
    const s = await start();
    const body = JSON.stringify({ version: "v7" });
    const res = await fetch(`${s.url}/hooks/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature-256": await sign(HOOK_SECRET, body) },
      body,
    });
    expect(res.status).toBe(202);
    await eventually(() => executor.requests.length === 1);
    expect(executor.requests[0]).toMatchObject({ job: "deploy", inputs: { version: "v7" } });
  });

  it("answers an unknown job, a job without a hook and a wrong signature alike: 401, nothing specific", async () => {
    const s = await start();
    const body = JSON.stringify({ version: "v7" });
    const answers = [];
    for (const [job, signature] of [
      ["deploy", await sign("guess", body)],
      ["web", await sign(HOOK_SECRET, body)],
      ["nope", await sign(HOOK_SECRET, body)],
      ["deploy", undefined],
    ] as const) {
      const res = await fetch(`${s.url}/hooks/${job}`, {
        method: "POST",
        headers: signature ? { "x-signature-256": signature } : {},
        body,
      });
      answers.push(`${res.status} ${await res.text()}`);
    }
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).toMatch(/^401 /);
    for (const secretOrFact of [c1, c2, c1.slice(0, 12), "nope", "webhook", "no job"])
      expect(answers[0]).not.toContain(secretOrFact);
    expect(executor.requests).toEqual([]);
    // The operator still sees why, without the signature or the secret.
    const refused = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "hook refused");
    expect(refused.map((l) => [l.hook, l.level])).toEqual([
      ["deploy", 40],
      ["web", 40],
      ["nope", 40],
      ["deploy", 40],
    ]);
    expect(String(refused[2]?.reason)).toMatch(/no job "nope"/);
    expect(logLines.join("")).not.toContain(HOOK_SECRET);
  });

  it("verifies the signature on the bytes as sent: a signed body that is not UTF-8 is accepted", async () => {
    const s = await start();
    const body = Buffer.concat([
      Buffer.from('{"zen":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('","hook_id":1}'),
    ]);
    const res = await fetch(`${s.url}/webhooks/github`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": "latin-1-ping",
        "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    expect(res.status).toBe(200);
  });
});

describe("hostile callers", () => {
  it("a compressed body on an unsigned request gets a clean 415, not a 500", async () => {
    const s = await start();
    for (const path of ["/webhooks/github", "/hooks/deploy"]) {
      const res = await fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { "content-encoding": "gzip", "content-type": "application/json" },
        body: gzipSync(JSON.stringify({ version: "v7" })),
      });
      expect(res.status).toBe(415);
      expect(await res.text()).not.toMatch(/\bat \w|node_modules/);
    }
    expect(logLines.some((l) => (JSON.parse(l) as { level: number }).level >= 50)).toBe(false);
  });

  it("logs a refused API token, without the token", async () => {
    const s = await start();
    const res = await fetch(`${s.url}/api/runs`, { headers: { authorization: "Bearer wrong-token-123" } });
    expect(res.status).toBe(401);
    const line = logLines.find((l) => l.includes("bearer token"));
    expect(line).toBeDefined();
    expect(logLines.join("")).not.toContain("wrong-token-123");
  });

  it("runs the same push once, also when it comes again under a new delivery id", async () => {
    const s = await start();
    expect((await send(s.url, delivery("push", pushPayload()), SECRET)).status).toBe(202);
    const again = await send(s.url, delivery("push", pushPayload()), SECRET);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true });
    await s.service.settled();
    await s.service.queue.idle();
    expect(executor.requests).toHaveLength(1);
  });

  it("drops a tag push whose commit the mirror lacks, at warn level, instead of keeping it forever", async () => {
    const s = await start();
    const missing = "1234567890abcdef1234567890abcdef12345678";
    const tag = examplePayload("push", { ref: "refs/tags/v9", before: "0".repeat(40), after: missing });
    expect((await send(s.url, delivery("push", tag), SECRET)).status).toBe(202);
    await s.service.settled();
    const lines = logLines.map((l) => JSON.parse(l) as { level: number; msg: string; ref?: string });
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.find((l) => l.ref === "refs/tags/v9" && l.level === 40)?.msg).toMatch(/dropped/);
    await s.close(0);
    server = undefined;
    // Nothing is left in the inbox to be tried again at the next start.
    const again = await start();
    await again.service.settled();
    expect(logLines.filter((l) => l.includes("refs/tags/v9"))).toHaveLength(1);
  });
});

describe("a /hooks call with a wrong signature", () => {
  it("decrypts nothing and adds nothing to the server's redactor; a signed call does", async () => {
    let decrypted = 0;
    const redactor = new Redactor();
    const s = await start({
      redactor,
      resolveSecret: async (_dir, _commit, ref) => {
        decrypted++;
        return ref === "hooks/deploy.secret" ? HOOK_SECRET : undefined;
      },
    });
    const before = { decrypted, masked: redactor.size };
    const body = JSON.stringify({ version: "v7" });
    for (const guess of ["guess", "1", ""]) {
      const res = await fetch(`${s.url}/hooks/deploy`, {
        method: "POST",
        headers: guess ? { "x-signature-256": await sign(guess, body) } : {},
        body,
      });
      expect(res.status).toBe(401);
    }
    expect({ decrypted, masked: redactor.size }).toEqual(before);
    const signed = await fetch(`${s.url}/hooks/deploy`, {
      method: "POST",
      headers: { "x-signature-256": await sign(HOOK_SECRET, body) },
      body,
    });
    expect(signed.status).toBe(202);
    expect(decrypted).toBe(before.decrypted);
    expect(redactor.redact(HOOK_SECRET)).toBe("***");
  });
});

describe("the API", () => {
  const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

  it("needs the bearer token", async () => {
    const s = await start();
    expect((await fetch(`${s.url}/api/runs`)).status).toBe(401);
    expect((await fetch(`${s.url}/api/runs`, { headers: { authorization: "Bearer nope" } })).status).toBe(
      401,
    );
    await s.close(0);
    // Without OPSC_API_TOKEN the same value is just an unknown token.
    const open = await start({ apiToken: undefined });
    const res = await fetch(`${open.url}/api/runs`, { headers: auth });
    expect(res.status).toBe(401);
  });

  it("starts a manual run, lists it and shows it by id", async () => {
    const s = await start();
    const named = await fetch(`${s.url}/api/jobs/deploy/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ inputs: { version: "v3" }, actor: "alice" }),
    });
    expect(named.status).toBe(400);
    const res = await fetch(`${s.url}/api/jobs/deploy/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ inputs: { version: "v3" } }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await s.service.queue.idle();
    const list = (await (await fetch(`${s.url}/api/runs`, { headers: auth })).json()) as {
      runs: Array<{ id: string }>;
    };
    expect(list.runs.map((r) => r.id)).toContain(id);
    const one = (await (await fetch(`${s.url}/api/runs/${id}`, { headers: auth })).json()) as Record<
      string,
      unknown
    >;
    expect(one).toMatchObject({ id, job: "deploy", status: "finished", result: "success", commit: c2 });
    expect(one.trigger).toMatchObject({
      kind: "api",
      actor: "bootstrap",
      by: { name: "bootstrap", via: "bootstrap-token" },
    });
    expect((await fetch(`${s.url}/api/runs/nope`, { headers: auth })).status).toBe(404);
  });

  it("says what is wrong with the inputs, and refuses unknown jobs and jobs without manual runs", async () => {
    const s = await start();
    const bad = await fetch(`${s.url}/api/jobs/deploy/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ inputs: {} }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/needs input "version"/);
    const unknown = await fetch(`${s.url}/api/jobs/nope/runs`, { method: "POST", headers: auth, body: "{}" });
    expect(unknown.status).toBe(404);
    const locked = await fetch(`${s.url}/api/jobs/locked/runs`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    expect(locked.status).toBe(403);
    expect(executor.requests).toEqual([]);
  });
});

describe("health, metrics, journal, logs", () => {
  it("answers /healthz, /readyz and /metrics with runs by job and result", async () => {
    const s = await start();
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    await send(s.url, delivery("push", pushPayload()), SECRET);
    await s.service.settled();
    await s.service.queue.idle();
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/opsc_runs_total\{job="web",result="success"\} 1/);
    expect(text).toMatch(/opsc_deliveries_total\{source="github",outcome="accepted"\} 1/);
    expect(text).toMatch(/opsc_step_duration_seconds_count\{job="web",outcome="ok"\} 1/);
    expect(text).toMatch(/opsc_queue_depth 0/);
  });

  it("keeps accepted work across a restart: queued items run after it", async () => {
    const s = await start({ limit: 1 });
    executor.hold = true;
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    for (const v of ["v1", "v2"]) {
      await fetch(`${s.url}/api/jobs/deploy/runs`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ inputs: { version: v } }),
      });
    }
    await eventually(() => executor.requests.length === 1);
    await s.close(0); // the running one is cancelled; v2 never started
    expect(executor.requests.map((r) => r.inputs.version)).toEqual(["v1"]);
    executor.hold = false;
    await start({ limit: 1 });
    await eventually(() => executor.requests.length === 2);
    expect(executor.requests[1]!.inputs).toEqual({ version: "v2" });
  });

  it("answers 503 to new work while shutting down", async () => {
    const s = await start();
    executor.hold = true;
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    await fetch(`${s.url}/api/jobs/deploy/runs`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ inputs: { version: "v1" } }),
    });
    await eventually(() => executor.requests.length === 1);
    const closing = s.close(5_000);
    const res = await fetch(`${s.url}/api/runs`, { headers: auth });
    expect(res.status).toBe(503);
    executor.release();
    await closing;
  });

  it("logs JSON lines with job and run id on the lines of a run, and never the secrets", async () => {
    const s = await start();
    await send(s.url, delivery("push", pushPayload()), SECRET);
    await s.service.settled();
    await s.service.queue.idle();
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const finished = lines.find((l) => l.msg === "run finished");
    const raw = logLines.find((l) => l.includes('"run finished"'))!;
    expect(raw.match(/"runId"/g)).toHaveLength(1);
    expect(finished).toMatchObject({ job: "web" });
    expect(String(finished?.runId)).toMatch(/^20260101T000000Z-web-/);
    expect(logLines.join("")).not.toContain(SECRET);
  });
});

describe("schedules in the server", () => {
  it("re-registers schedules when a push to the default branch changes jobs", async () => {
    const r = new TestRepo();
    const a = r.commit({
      ...BASE_FILES,
      "jobs/nightly.yaml": jobYaml(`on:\n  schedule: [{ cron: "0 2 * * *", timezone: UTC }]`),
    });
    const dir = mkdtempSync(join(tmpdir(), "opsc-state-"));
    try {
      const s = await start({ repo: r.dir, state: dir });
      expect(s.service.scheduler.registered.map((x) => x.cron)).toEqual(["0 2 * * *"]);
      const b = r.commit({
        "jobs/nightly.yaml": jobYaml(`on:\n  schedule: [{ cron: "30 4 * * *", timezone: Europe/Paris }]`),
      });
      const payload = examplePayload("push", { ref: "refs/heads/main", before: a, after: b, deleted: false });
      expect((await send(s.url, delivery("push", payload), SECRET)).status).toBe(202);
      await s.service.settled();
      expect(s.service.scheduler.registered).toMatchObject([
        { job: "nightly", cron: "30 4 * * *", timezone: "Europe/Paris" },
      ]);
    } finally {
      await server?.close(0);
      r.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fires a tick under a controllable clock; an overlapping tick follows the job's policy", async () => {
    const sched = new TestRepo();
    sched.commit({
      ...BASE_FILES,
      "jobs/backup.yaml": jobYaml(
        `on:\n  schedule: [{ cron: "*/5 * * * *", timezone: UTC }]\nconcurrency: { group: backup, policy: skip }`,
      ),
    });
    const clock = new ManualClock("2026-01-01T00:01:00Z");
    const dir = mkdtempSync(join(tmpdir(), "opsc-state-"));
    const missed: string[] = [];
    try {
      const s = await start({
        repo: sched.dir,
        state: dir,
        clock,
        recordMissed: async (_d, t) => void missed.push(t.at),
      });
      executor.hold = true;
      clock.set("2026-01-01T00:05:00Z");
      await s.service.tick();
      await eventually(() => executor.requests.length === 1);
      expect(executor.requests[0]!.trigger).toMatchObject({
        kind: "schedule",
        detail: { tick: "2026-01-01T00:05:00.000Z" },
      });
      clock.set("2026-01-01T00:10:00Z"); // the 00:05 run is still going: policy skip drops this tick
      await s.service.tick();
      expect(executor.requests).toHaveLength(1);
      expect(s.service.runs().find((r) => r.status === "skipped")?.reason).toMatch(/busy \(policy skip\)/);
      executor.release();
      await s.service.queue.idle();
      clock.set("2026-01-01T00:32:00Z"); // 00:15..00:30 passed unseen: each is recorded as missed
      await s.service.tick();
      expect(missed).toEqual([
        "2026-01-01T00:15:00.000Z",
        "2026-01-01T00:20:00.000Z",
        "2026-01-01T00:25:00.000Z",
        "2026-01-01T00:30:00.000Z",
      ]);
      expect(executor.requests).toHaveLength(1); // catch-up defaults to none
    } finally {
      await server?.close(0);
      sched.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
