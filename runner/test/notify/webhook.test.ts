import { createServer } from "node:net";
import { Webhooks } from "@octokit/webhooks";
import { afterEach, describe, expect, it } from "vitest";
import type { NotifySpec } from "../../src/core/repo-model.js";
import { notifyRun, startedNotifier, type CredentialReader } from "../../src/notify/notifier.js";
import { SIGNATURE_HEADER } from "../../src/notify/sign-payload.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { assertNoCanary, CANARY, plantCanaries } from "../helpers/canary.js";
import { startReceiver, type Receiver } from "./http-receiver.js";
import { summary } from "./run-summaries.js";

const SECRET = "hook secret from credentials";
const credentials: CredentialReader = {
  get: async (ref) => {
    if (ref === "ops/hooks.notify") return SECRET;
    if (ref === "ops/hooks") return { notify: SECRET };
    throw new Error(`credentials/ops.sops.yaml has no key for ${ref}`);
  },
};
const FAST = { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 };

let receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

async function receiver(
  answer: Parameters<typeof startReceiver>[0] = () => ({ status: 204 }),
): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

function spec(url: string, on: NotifySpec["on"] = ["failure"], secret = "ops/hooks.notify"): NotifySpec {
  return { on, webhook: { url: `${url}/hooks/ops`, secret } };
}

describe("webhook notifications", () => {
  it("POSTs a masked JSON payload that a GitHub-style verifier accepts", async () => {
    const r = await receiver();
    const redactor = new Redactor();
    plantCanaries(redactor);
    const logs: string[] = [];
    const outcomes = await notifyRun([spec(r.url)], summary("failure"), {
      redactor,
      credentials,
      retry: FAST,
      log: (l) => logs.push(l),
    });
    expect(outcomes).toEqual([
      { event: "failure", channel: "webhook", to: r.url, ok: true, attempts: 1, ms: expect.any(Number) },
    ]);
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/hooks/ops");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["x-opsconductor-event"]).toBe("failure");
    const signature = got.headers[SIGNATURE_HEADER.toLowerCase()] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    // An independent implementation (the one GitHub receivers use) verifies it.
    expect(await new Webhooks({ secret: SECRET }).verify(got.body, signature)).toBe(true);
    expect(await new Webhooks({ secret: "another secret" }).verify(got.body, signature)).toBe(false);
    const payload = JSON.parse(got.body);
    expect(payload).toMatchObject({ event: "failure", job: "patch-web", run: { result: "failure" } });
    expect(payload.problems[0].reason).toBe("exit 1: token *** rejected");
    assertNoCanary(got.body, "webhook body");
    expect(logs).toEqual([]);
  });

  it("sends nothing to a spec that does not listen to the event", async () => {
    const r = await receiver();
    const outcomes = await notifyRun([spec(r.url, ["failure"])], summary("success"), {
      redactor: new Redactor(),
      credentials,
      retry: FAST,
    });
    expect(outcomes).toEqual([]);
    expect(r.received).toHaveLength(0);
  });

  it("retries 5xx with backoff under one delivery id, then succeeds", async () => {
    const r = await receiver((_req, n) => (n < 3 ? { status: 503 } : { status: 200 }));
    const outcomes = await notifyRun([spec(r.url, ["success"])], summary("success"), {
      redactor: new Redactor(),
      credentials,
      retry: FAST,
    });
    expect(outcomes[0]).toMatchObject({ ok: true, attempts: 3 });
    const ids = new Set(r.received.map((x) => x.headers["x-opsconductor-delivery"]));
    expect(ids.size).toBe(1);
  });

  it("does not retry a 4xx, and logs the failure without throwing", async () => {
    const r = await receiver(() => ({ status: 404 }));
    const logs: string[] = [];
    const outcomes = await notifyRun([spec(r.url)], summary("failure"), {
      redactor: new Redactor(),
      credentials,
      retry: FAST,
      log: (l) => logs.push(l),
    });
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 1, error: "HTTP 404 Not Found" });
    expect(r.received).toHaveLength(1);
    expect(logs).toEqual([
      `notify: failure webhook to ${r.url} failed after 1 attempt(s): HTTP 404 Not Found`,
    ]);
  });

  it("refuses plain http to anything but loopback", async () => {
    const outcomes = await notifyRun(
      [spec("http://hooks.example.com"), spec("ftp://127.0.0.1")],
      summary("failure"),
      { redactor: new Redactor(), credentials, retry: FAST, log: () => undefined },
    );
    expect(outcomes.map((o) => o.error)).toEqual([
      "refusing to send to http://hooks.example.com: use https:// (plain http:// only to loopback)",
      "refusing to send to ftp://127.0.0.1: use https:// (plain http:// only to loopback)",
    ]);
  });

  it("does not follow a redirect with a signed body", async () => {
    const r = await receiver(() => ({ status: 307, headers: { location: "http://127.0.0.1:9/elsewhere" } }));
    const outcomes = await notifyRun([spec(r.url)], summary("failure"), {
      redactor: new Redactor(),
      credentials,
      retry: FAST,
      log: () => undefined,
    });
    expect(outcomes[0]).toMatchObject({
      ok: false,
      attempts: 1,
      error: "the URL answered with a redirect; give the final URL",
    });
    expect(r.received).toHaveLength(1);
  });

  it("gives up after the time limit on a receiver that never answers", async () => {
    const r = await receiver(() => "hang");
    const outcomes = await notifyRun([spec(r.url)], summary("failure"), {
      redactor: new Redactor(),
      credentials,
      retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
      timeoutMs: 200,
      log: () => undefined,
    });
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 2, error: "no answer within 200 ms" });
    expect(r.received).toHaveLength(2);
  });

  it("reports a closed port, a missing secret and a mapping secret as failed outcomes", async () => {
    const port = await closedPort();
    const outcomes = await notifyRun(
      [
        spec(`http://127.0.0.1:${port}`),
        spec("http://127.0.0.1:9", ["failure"], "ops/missing"),
        spec("http://127.0.0.1:9", ["failure"], "ops/hooks"),
      ],
      summary("failure"),
      {
        redactor: new Redactor(),
        credentials,
        retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5 },
        log: () => undefined,
      },
    );
    expect(outcomes.map((o) => [o.ok, o.attempts, o.error])).toEqual([
      [false, 2, "cannot connect: ECONNREFUSED"],
      [false, 0, "credentials/ops.sops.yaml has no key for ops/missing"],
      [false, 0, "webhook secret ops/hooks is a mapping, not a value: name one of its keys"],
    ]);
  });

  it("masks secrets inside delivery errors too", async () => {
    const redactor = new Redactor();
    plantCanaries(redactor);
    const leaky: CredentialReader = { get: async () => Promise.reject(new Error(`bad value ${CANARY}`)) };
    const logs: string[] = [];
    const outcomes = await notifyRun([spec("http://127.0.0.1:9")], summary("failure"), {
      redactor,
      credentials: leaky,
      log: (l) => logs.push(l),
    });
    expect(outcomes[0]?.error).toBe("bad value ***");
    assertNoCanary(JSON.stringify(outcomes) + logs.join("\n"), "notification outcome");
  });

  it("notifies `started` from the run's events", async () => {
    const r = await receiver();
    const started = startedNotifier(
      [spec(r.url, ["started"]), spec(r.url, ["failure"])],
      { trigger: { kind: "manual", actor: "alice" }, commit: "abc123", checkMode: false },
      { redactor: new Redactor(), credentials, retry: FAST },
    );
    started.listener({ type: "phase.started", at: "2026-11-22T03:15:00.000Z", phase: "main" });
    started.listener({
      type: "run.started",
      at: "2026-11-22T03:15:00.000Z",
      runId: "20261122T031500Z-patch-web-1",
      job: "patch-web",
      targets: ["a", "b", "c"],
    });
    const outcomes = await started.settled();
    expect(outcomes).toHaveLength(1);
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({
      event: "started",
      text: "patch-web started on 3 targets",
      run: {
        id: "20261122T031500Z-patch-web-1",
        trigger: { kind: "manual", actor: "alice" },
        sourceCommit: "abc123",
      },
    });
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
