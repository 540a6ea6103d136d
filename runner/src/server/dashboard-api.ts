/**
 * The read side of the HTTP API the dashboard pages use: run history from the
 * records index, one recorded run with its logs, the SSE stream of a run's
 * events, jobs with their plan and launch schema, targets, schedules and the
 * audit trail. Mounted behind the API's authentication in http-app.ts; the
 * work is done by the functions in app/dashboard-queries.ts.
 */
import path from "node:path";
import express, { type Request, type Response } from "express";
import type { Logger } from "pino";
import type { RunEvent } from "../core/run-events.js";
import type { Redactor } from "../secrets/redactor.js";
import {
  auditView,
  checkInputs,
  checkTargetsHealth,
  jobView,
  jobsView,
  recordedRun,
  recordsBranch,
  replayFromRecord,
  schedulesView,
  targetsView,
  checkableTargets,
  followerEvent,
  openRunsIndex,
} from "../app/dashboard-queries.js";
import { callerOf, type Caller } from "./auth/access-control.js";
import type { RunnerService } from "./runner-service.js";
import type { RunsIndex } from "../records/runs-index.js";

export interface DashboardApiOptions {
  service: RunnerService;
  redactor: Redactor;
  logger: Logger;
  /** Where the runs index file is kept (the server's state directory). */
  stateDir: string;
  /** The automation repository's URL, for links to commits on the forge. */
  repoUrl?: string;
  /**
   * Whether the caller may run the job (the access policy, when the server has one).
   * Only decides what the pages offer: the launch route checks again.
   */
  mayRun?: (res: Response, jobId: string) => Promise<boolean>;
  /**
   * Whether the caller may see the job and its runs (the access policy, when
   * the server has one); without it, every authenticated caller sees all.
   */
  mayView?: (res: Response, jobId: string) => Promise<boolean>;
  /**
   * Whether the caller may view anything at all (the access policy, when the
   * server has one): targets and the audit trail are shown to those only.
   */
  mayViewAny?: (res: Response) => Promise<boolean>;
  /** Between SSE keep-alive comments (proxies close idle streams). */
  heartbeatMs?: number;
}

export function dashboardApi(o: DashboardApiOptions): express.Router {
  const r = express.Router();
  let index: RunsIndex | undefined;
  const checking = new Set<string>();
  const runsIndex = async (): Promise<RunsIndex> => {
    const branch = await recordsBranch(o.service);
    if (!index || index.branch !== branch)
      index = openRunsIndex(o.service.repoDir, path.join(o.stateDir, "runs-index.json"), branch);
    return index;
  };

  const mayView = async (res: Response, job: string): Promise<boolean> =>
    o.mayView ? o.mayView(res, job) : true;
  const refuseView = (res: Response, job: string): void => {
    res.status(403).json({ error: `you may not view job "${job}"`, missing: "view", job });
  };
  /** Answers 403 unless the caller may view some job. */
  const viewsAny = async (res: Response): Promise<boolean> => {
    if (!o.mayViewAny || (await o.mayViewAny(res))) return true;
    res.status(403).json({ error: "you may not view any job", missing: "view" });
    return false;
  };

  r.get("/records/runs", async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = Number(q.limit ?? 50) || 50;
    const index = await runsIndex();
    const visible = new Set<string>();
    for (const job of await index.jobs()) if (await mayView(res, job)) visible.add(job);
    res.json(
      await index.query(
        {
          ...(q.job ? { job: q.job } : {}),
          ...(q.result ? { result: q.result } : {}),
          ...(q.trigger ? { trigger: q.trigger } : {}),
          ...(q.actor ? { actor: q.actor } : {}),
          ...(q.before ? { before: q.before } : {}),
          limit,
        },
        (job) => visible.has(job),
      ),
    );
  });
  r.get("/records/runs/:id", async (req, res) => {
    const found = await recordedRun(o.service, String(req.params.id), o.repoUrl);
    if (!found) res.status(404).json({ error: `no recorded run "${String(req.params.id)}"` });
    else if (!(await mayView(res, found.summary.job))) refuseView(res, found.summary.job);
    else res.json(found);
  });
  r.get("/runs/:id/events", async (req, res) => {
    await streamEvents(o, String(req.params.id), req, res);
  });
  r.get("/jobs", async (_req, res) => {
    const all = await jobsView(o.service);
    const jobs = [];
    for (const j of all.jobs) if (await mayView(res, j.id)) jobs.push(j);
    res.json({ ...all, jobs });
  });
  r.post("/jobs/*job/check", express.json({ limit: "256kb" }), async (req, res) => {
    const id = pathParam((req.params as Record<string, unknown>).job);
    const inputs = (req.body as { inputs?: unknown } | undefined)?.inputs ?? {};
    if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) {
      res.status(400).json({ error: "`inputs` must be an object" });
      return;
    }
    if (!(await mayView(res, id))) {
      refuseView(res, id);
      return;
    }
    const checked = await checkInputs(o.service, id, inputs as Record<string, unknown>);
    if (!checked) res.status(404).json({ error: `there is no job "${id}" at the default branch's head` });
    else res.json(checked);
  });
  r.get("/jobs/*job", async (req, res) => {
    const id = pathParam((req.params as Record<string, unknown>).job);
    const view = await jobView(o.service, id, o.repoUrl);
    if (view && !(await mayView(res, id))) refuseView(res, id);
    else if (!view) res.status(404).json({ error: `there is no job "${id}" at the default branch's head` });
    else res.json({ ...view, mayRun: o.mayRun ? await o.mayRun(res, id) : true });
  });
  /** Jobs at the head the caller may run (the health check is offered on their targets). */
  const runnable = async (res: Response): Promise<(jobId: string) => boolean> => {
    if (!o.mayRun) return () => true;
    const { model } = await o.service.headModel();
    const yes = new Set<string>();
    for (const id of model.jobs.keys()) if (await o.mayRun(res, id)) yes.add(id);
    return (id) => yes.has(id);
  };
  r.get("/targets", async (_req, res) => {
    if (!(await viewsAny(res))) return;
    res.json(await targetsView(o.service, await runsIndex(), await runnable(res)));
  });
  r.post("/targets/check", express.json({ limit: "64kb" }), async (req, res) => {
    const asked = (req.body as { targets?: unknown } | undefined)?.targets;
    if (asked !== undefined && (!Array.isArray(asked) || !asked.every((t) => typeof t === "string"))) {
      res
        .status(400)
        .json({ error: "`targets` must be a list of target names (or absent: every target you may check)" });
      return;
    }
    const { model } = await o.service.headModel();
    const unknown = (asked ?? []).find((t) => !model.targets.has(t));
    if (unknown !== undefined) {
      res.status(404).json({ error: `there is no target "${unknown}" at the default branch's head` });
      return;
    }
    const checkable = checkableTargets(model, await runnable(res));
    const refused = (asked ?? []).find((t) => !checkable.has(t));
    if (refused !== undefined || checkable.size === 0) {
      res.status(403).json({
        error:
          refused !== undefined
            ? `you may not check target "${refused}": no job you may run selects it`
            : "you may not check any target: no job you may run selects one",
        missing: "run",
        ...(refused !== undefined ? { target: refused } : {}),
      });
      return;
    }
    const targets = asked && asked.length > 0 ? asked : [...checkable].sort();
    // One check at a time per caller: each opens a connection to every target it names.
    const who = (callerOf(res) as Caller | undefined)?.identity.user ?? "";
    if (checking.has(who)) {
      res
        .status(429)
        .set("Retry-After", "5")
        .json({ error: "a health check of yours is still running; try again when it has finished" });
      return;
    }
    checking.add(who);
    try {
      o.logger.info({ by: who, targets: targets.length }, "targets health check");
      res.json({ results: await checkTargetsHealth(o.service, targets, o.redactor) });
    } finally {
      checking.delete(who);
    }
  });
  r.get("/schedules", async (_req, res) => {
    const all = await schedulesView(o.service);
    const visible = async <T extends { job: string }>(list: T[]): Promise<T[]> => {
      const out: T[] = [];
      for (const x of list) if (await mayView(res, x.job)) out.push(x);
      return out;
    };
    res.json({ schedules: await visible(all.schedules), missed: await visible(all.missed) });
  });
  r.get("/audit", async (req, res) => {
    if (!(await viewsAny(res))) return;
    const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 50) || 50));
    const view = await auditView(o.service, limit);
    // A line of a job the caller may not view is left out, as in the runs list.
    const lines = [];
    for (const l of view.lines) {
      const job = (l as { job?: unknown }).job;
      if (typeof job !== "string" || (await mayView(res, job))) lines.push(l);
    }
    res.json({ ...view, lines });
  });
  return r;
}

/**
 * `text/event-stream` of one run: every event so far, then live ones, then
 * `event: end` when the run ends. A run no longer held live is replayed from
 * its record. Event text is masked again with the server's redactor.
 */
async function streamEvents(o: DashboardApiOptions, id: string, req: Request, res: Response): Promise<void> {
  let replay: RunEvent[] | undefined;
  const item = o.service.run(id);
  const job = o.mayView ? (item?.job ?? (await recordedRun(o.service, id))?.summary.job) : undefined;
  if (job !== undefined && o.mayView && !(await o.mayView(res, job))) {
    res.status(403).json({ error: `you may not view job "${job}"`, missing: "view", job });
    return;
  }
  const live = o.service.events.has(id) || item?.status === "queued" || item?.status === "running";
  if (!live) {
    replay = await replayFromRecord(o.service, item?.runId ?? id);
    if (!replay) {
      res.status(404).json({ error: `no run "${id}" here or on the records branch` });
      return;
    }
  }
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  let n = 0;
  const send = (e: RunEvent): void => {
    res.write(`id: ${++n}\nevent: ${e.type}\ndata: ${JSON.stringify(followerEvent(e, o.redactor))}\n\n`);
  };
  const end = (): void => {
    clearInterval(beat);
    res.write("event: end\ndata: {}\n\n");
    res.end();
  };
  const beat = setInterval(() => res.write(": keep-alive\n\n"), o.heartbeatMs ?? 15_000);
  if (replay) {
    for (const e of replay) send(e);
    end();
    return;
  }
  const unsubscribe = o.service.events.subscribe(item?.id ?? id, { event: send, end }, { expect: true });
  req.on("close", () => {
    clearInterval(beat);
    unsubscribe?.();
  });
}

function pathParam(p: unknown): string {
  return Array.isArray(p) ? p.join("/") : String(p ?? "");
}
