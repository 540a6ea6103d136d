/**
 * GET /api/runs/:id/events on its own: a real run (the real executeJob on the
 * local target) held at a FIFO so subscribers can arrive early and late. A
 * planted value (the server's API token, which every run masks) is printed by
 * the step and must never reach a stream.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/core/run-events.js";
import { followRun } from "../../src/cli/follow-run.js";
import { executeJob } from "../../src/app/execute-job.js";
import { Redactor } from "../../src/secrets/redactor.js";
import { createLogger } from "../../src/server/server-logger.js";
import { startServer, type RunningServer } from "../../src/server/start-server.js";
import { BASE_FILES, jobYaml, TestRepo } from "../helpers/automation-repo.js";
import { eventually } from "../helpers/fake-executor.js";
import { OPSC } from "../helpers/serve-process.js";
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import express from "express";
import pino from "pino";
import { dashboardApi } from "../../src/server/dashboard-api.js";

// A planted marker, not a real secret.
const TOKEN = "canary-api-token-9d41c7";
const dir = mkdtempSync(join(tmpdir(), "opsc-sse-"));
const fifo = join(dir, "gate");
const planted = join(dir, "planted");
const repo = new TestRepo();
let server: RunningServer | undefined;
let state: string;

async function start(): Promise<RunningServer> {
  const redactor = new Redactor();
  return startServer({
    repo: repo.dir,
    state,
    port: 0,
    webhookSecret: "webhook-secret-for-sse",
    apiToken: TOKEN,
    executor: (req) => executeJob({ ...req, env: { ...process.env, OPSC_API_TOKEN: TOKEN } }),
    claims: false,
    useNodeCron: false,
    push: false,
    redactor,
    logger: createLogger({
      redactor,
      pretty: false,
      destination: new Writable({
        write: (c, _e, cb) => (process.env.SSE_DEBUG && console.log(String(c)), cb()),
      }),
    }),
  });
}

/** Collects a stream's events; `done` resolves when the server ends it. */
function subscribe(id: string): { events: RunEvent[]; done: Promise<void> } {
  const events: RunEvent[] = [];
  const done = (async () => {
    for await (const e of followRun(server!.url, id, TOKEN)) events.push(e);
  })();
  return { events, done };
}

const lines = (events: RunEvent[]) => events.flatMap((e) => (e.type === "step.output" ? [e.line] : []));

beforeAll(async () => {
  execFileSync("mkfifo", [fifo]);
  writeFileSync(planted, `${TOKEN}\n`);
  const script = `echo first line; read gate < ${fifo}; echo "token: $(cat ${planted})"; echo last line`;
  repo.commit({ ...BASE_FILES, "jobs/gated.yaml": jobYaml("on:\n  manual: true", script) });
  state = mkdtempSync(join(tmpdir(), "opsc-state-"));
  server = await start();
});

afterAll(async () => {
  await server?.close(0);
  repo.remove();
  rmSync(dir, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

describe("GET /api/runs/:id/events", () => {
  let runId = "";
  let early: ReturnType<typeof subscribe>;
  let late: ReturnType<typeof subscribe>;

  it("streams a run's events in order to an early and a late subscriber alike, masked, and ends with the run", async () => {
    const res = await fetch(`${server!.url}/api/jobs/gated/runs`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    early = subscribe(id);
    await eventually(() => lines(early.events).includes("first line"));
    // Arrives mid-run: gets everything from the start, then follows.
    late = subscribe(id);
    await eventually(() => lines(late.events).includes("first line"));
    const gate = await open(fifo, "w");
    await gate.write("go\n");
    await gate.close();
    await Promise.all([early.done, late.done]);

    const types = early.events.map((e) => e.type);
    expect(types[0]).toBe("run.started");
    expect(types.at(-1)).toBe("run.finished");
    expect(types.indexOf("step.started")).toBeLessThan(types.indexOf("step.output"));
    expect(types.lastIndexOf("step.output")).toBeLessThan(types.indexOf("step.finished"));
    expect(types.indexOf("step.finished")).toBeLessThan(types.indexOf("target.finished"));
    expect(lines(early.events)).toEqual(["first line", "token: ***", "last line"]);
    expect(late.events).toEqual(early.events);
    expect(JSON.stringify(early.events)).not.toContain(TOKEN);
    runId = (early.events[0] as Extract<RunEvent, { type: "run.started" }>).runId;
    expect(early.events.at(-1)).toMatchObject({ type: "run.finished", result: "success" });
  });

  it("replays a finished run from its record after a restart, masked, and ends", async () => {
    await server!.close(0);
    server = await start();
    const after = subscribe(runId);
    await after.done;
    expect(after.events.map((e) => e.type)).toEqual([
      "run.started",
      "target.started",
      "step.started",
      "step.output",
      "step.output",
      "step.output",
      "step.finished",
      "target.finished",
      "run.finished",
    ]);
    expect(lines(after.events)).toEqual(["first line", "token: ***", "last line"]);
    expect(JSON.stringify(after.events)).not.toContain(TOKEN);
  });

  it("`opsc runs show ID --follow --server URL` prints the run with OPSC_TOKEN, masked, and exits with its result", async () => {
    // Async: the server under test runs in this process.
    const child = spawn(
      process.execPath,
      [OPSC, "runs", "show", runId, "--follow", "--server", server!.url],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, OPSC_TOKEN: TOKEN },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += String(c)));
    child.stderr.on("data", (c: Buffer) => (err += String(c)));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toContain(`run ${runId} of gated on here`);
    expect(out).toContain("[here] first line\n[here] token: ***\n[here] last line\n");
    expect(out).toMatch(/success in/);
    expect(out).not.toContain(TOKEN);

    const refused = spawn(
      process.execPath,
      [OPSC, "runs", "show", runId, "--follow", "--server", server!.url],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, OPSC_TOKEN: "wrong-token" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let refusedErr = "";
    refused.stderr.on("data", (c: Buffer) => (refusedErr += String(c)));
    expect(await new Promise<number | null>((resolve) => refused.on("exit", resolve))).toBe(3);
    expect(refusedErr).toContain("OPSC_TOKEN");
  });

  it("shows a caller only the jobs and runs the access hooks let them see, and offers no launch without run", async () => {
    const app = express();
    app.use(
      "/api",
      dashboardApi({
        service: server!.service,
        redactor: new Redactor(),
        logger: pino({ level: "silent" }),
        stateDir: state,
        mayView: async (_res, job) => job !== "gated",
        mayViewAny: async () => false,
        mayRun: async () => false,
      }),
    );
    const http = app.listen(0, "127.0.0.1");
    await new Promise((r) => http.once("listening", r));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api`;
    try {
      const runs = (await (await fetch(`${base}/records/runs`)).json()) as { runs: unknown[]; total: number };
      expect(runs.total).toBeGreaterThan(0);
      expect(runs.runs).toEqual([]);
      expect((await fetch(`${base}/records/runs/${runId}`)).status).toBe(403);
      expect((await fetch(`${base}/runs/${runId}/events`)).status).toBe(403);
      expect((await fetch(`${base}/jobs/gated`)).status).toBe(403);
      expect(((await (await fetch(`${base}/jobs`)).json()) as { jobs: unknown[] }).jobs).toEqual([]);
      const check = await fetch(`${base}/jobs/gated/check`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: {} }),
      });
      expect(check.status).toBe(403);
      // Targets and the audit trail only for a caller who may view some job.
      expect((await fetch(`${base}/targets`)).status).toBe(403);
      expect((await fetch(`${base}/audit`)).status).toBe(403);
      const targetsCheck = await fetch(`${base}/targets/check`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      expect(targetsCheck.status).toBe(403);
    } finally {
      http.close();
    }
  });

  it("answers 404 for a run it does not know and 401 without the token", async () => {
    const unknown = await fetch(`${server!.url}/api/runs/20260101T000000Z-nothing-0000/events`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(unknown.status).toBe(404);
    const anonymous = await fetch(`${server!.url}/api/runs/${runId}/events`);
    expect(anonymous.status).toBe(401);
  });
});
