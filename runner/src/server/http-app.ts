/**
 * The HTTP door of `opsc serve`: express routes that check who is calling,
 * then translate the request into a RunnerService call. Signatures are checked
 * on the raw body before it is parsed or looked at.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { isOpscError } from "../core/errors.js";
import { isRecord } from "../core/is-record.js";
import type { Redactor } from "../secrets/redactor.js";
import { callerOf, type AccessControl } from "./auth/access-control.js";
import { forgeRoutes } from "./forge-webhooks.js";
import { asBuffer, parseObject } from "./request-body.js";
import type { RunnerService } from "./runner-service.js";
import { dashboardApi } from "./dashboard-api.js";
import type { ServerMetrics } from "./server-metrics.js";
import { GithubVerifier, verifyHmac } from "./verify-signature.js";
import { webRoutes } from "./web-routes.js";
import type { WorkItem } from "./work-item.js";

/** GitHub caps deliveries at 25 MB, but a push payload is rarely above a few hundred KiB. Above this: 413. */
export const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;

export interface HttpAppOptions {
  service: RunnerService;
  metrics: ServerMetrics;
  logger: Logger;
  redactor: Redactor;
  webhookSecret: string;
  /** Who is calling /api and /auth, and what they may do. */
  access: AccessControl;
  bodyLimit?: number;
  /** State directory: the dashboard's runs index is kept there. */
  stateDir?: string;
  /** The automation repository's URL (no credentials), for links to commits on the forge. */
  repoUrl?: string;
}

export function createHttpApp(o: HttpAppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  const github = new GithubVerifier(o.webhookSecret);
  // Signatures cover the bytes as sent, and nobody signs a compressed body: no inflating (415), and no zip bomb before the check.
  const raw = express.raw({ type: () => true, limit: o.bodyLimit ?? DEFAULT_BODY_LIMIT, inflate: false });
  const json = express.json({ type: () => true, limit: o.bodyLimit ?? DEFAULT_BODY_LIMIT });

  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/readyz", (_req, res) => {
    const ready = o.service.ready;
    res
      .status(ready ? 200 : 503)
      .json({ ready, queued: o.service.queue.depth, running: o.service.queue.active });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(o.metrics.registry.contentType).send(await o.metrics.text());
  });

  // Shutting down: refuse new work; health and metrics above still answer.
  app.use((_req, res, next) => {
    if (o.service.stopping)
      res.status(503).set("Retry-After", "5").json({ error: "the runner is shutting down" });
    else next();
  });

  app.post("/webhooks/github", raw, async (req, res) => {
    const body = asBuffer(req.body);
    if (!(await github.verify(body, req.get("x-hub-signature-256")))) {
      o.metrics.deliveries.inc({ source: "github", outcome: "bad-signature" });
      o.logger.warn(
        { delivery: req.get("x-github-delivery")?.slice(0, 100), remote: req.ip },
        "webhook refused: missing or wrong signature",
      );
      res.status(401).json({ error: "missing or invalid X-Hub-Signature-256" });
      return;
    }
    const payload = parseGithubBody(body, req.get("content-type"));
    if (!payload) {
      res.status(400).json({ error: "the body is not a JSON object" });
      return;
    }
    const answer = o.service.acceptGithub(
      req.get("x-github-event") ?? "",
      req.get("x-github-delivery") ?? "",
      payload,
    );
    res.status(answer.status).json(answer.body);
  });

  app.use("/webhooks", forgeRoutes({ ...o, raw }));

  app.post("/hooks/*job", raw, async (req, res) => {
    const jobId = pathParam(req.params.job);
    const body = asBuffer(req.body);
    // Read at the mirror's head without fetching, from secrets decrypted when that head arrived:
    // an unsigned caller makes us neither fetch nor decrypt.
    const known = await o.service.hookSecretAtHead(jobId);
    const secret = "secret" in known ? known.secret : undefined;
    const signature = req.get("x-hub-signature-256") ?? req.get("x-signature-256");
    if (secret === undefined || !(await verifyHmac(secret, body, signature))) {
      o.metrics.deliveries.inc({ source: "webhook", outcome: "bad-signature" });
      // The caller learns nothing before the signature checks out: not which jobs exist, nor the commit.
      o.logger.warn(
        {
          hook: jobId.slice(0, 200),
          reason: "reason" in known ? known.reason : "missing or wrong signature",
          remote: req.ip,
        },
        "hook refused",
      );
      res
        .status(401)
        .json({ error: "missing or invalid X-Signature-256 (sha256=<HMAC-SHA256 of the body, hex>)" });
      return;
    }
    // Only a caller who knows the secret grows the server's redactor.
    o.redactor.add(secret);
    const inputs = body.length === 0 ? {} : parseObject(body);
    if (!inputs) {
      res.status(400).json({ error: "the body must be a JSON object of inputs" });
      return;
    }
    const delivery = req.get("x-delivery-id") ?? req.get("x-github-delivery");
    const target = await o.service.jobAtHead(jobId);
    const answer = o.service.acceptRun(
      target,
      inputs,
      {
        kind: "webhook",
        actor: "hook",
        by: { name: `hook:${jobId}`, via: "hook" },
        detail: { hook: jobId, ...(delivery ? { delivery } : {}) },
      },
      delivery ? `hook-${jobId}-${delivery}` : undefined,
    );
    res.status(answer.status).json(answer.body);
  });

  app.use("/auth", o.access.routes());

  const api = express.Router();
  api.use(o.access.identify);
  api.get("/me", o.access.me);
  api.use(o.access.adminRoutes(json));
  api.post("/jobs/*job/runs", json, async (req, res) => {
    const jobId = pathParam((req.params as Record<string, unknown>).job);
    const body = (req.body ?? {}) as { inputs?: unknown; actor?: unknown };
    if (body.actor !== undefined) {
      res
        .status(400)
        .json({ error: "`actor` is not accepted: the run is recorded as the authenticated caller" });
      return;
    }
    if (body.inputs !== undefined && !isRecord(body.inputs)) {
      res.status(400).json({ error: "`inputs` must be an object" });
      return;
    }
    const target = await o.service.jobAtHead(jobId);
    const by = callerOf(res).identity;
    if (!(await o.access.allow(res, "run", jobId))) {
      o.access.event({
        event: "run.refused",
        by,
        detail: { job: jobId, commit: target.commit, missing: "run" },
      });
      return;
    }
    if (!target.job.on.manual) {
      res.status(403).json({ error: `job "${jobId}" does not allow manual runs (on.manual: false)` });
      return;
    }
    const answer = o.service.acceptRun(target, (body.inputs as Record<string, unknown>) ?? {}, {
      kind: "api",
      actor: by.user,
      by: { name: by.user, via: by.via, ...(by.token ? { token: by.token } : {}) },
    });
    res.status(answer.status).json(answer.body);
  });
  api.get("/runs", async (req, res) => {
    if (!(await o.access.allow(res, "view"))) return;
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    const policy = await o.access.policyNow();
    const me = callerOf(res).identity;
    res.json({
      runs: o.service
        .runs(limit)
        .filter((i) => o.access.mayNow(policy, me, "view", i.job))
        .map(view),
    });
  });
  api.get("/runs/:id", async (req, res) => {
    const item = o.service.run(String(req.params.id));
    if (!item) res.status(404).json({ error: `no run "${String(req.params.id)}"` });
    else if (await o.access.allow(res, "view", item.job)) res.json(view(item));
  });
  if (o.stateDir) {
    api.use(
      dashboardApi({
        service: o.service,
        redactor: o.redactor,
        logger: o.logger,
        stateDir: o.stateDir,
        ...(o.repoUrl ? { repoUrl: o.repoUrl } : {}),
        // Quiet checks: a list leaves out what the caller may not see, a job page says whether to offer launch.
        mayView: async (res, job) =>
          o.access.mayNow(await o.access.policyNow(), callerOf(res).identity, "view", job),
        mayViewAny: async (res) =>
          o.access.mayNow(await o.access.policyNow(), callerOf(res).identity, "view"),
        mayRun: async (res, job) =>
          o.access.mayNow(await o.access.policyNow(), callerOf(res).identity, "run", job),
      }),
    );
  }
  app.use("/api", api);
  app.use(webRoutes());

  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === "entity.too.large") {
      o.metrics.deliveries.inc({ source: "http", outcome: "too-large" });
      res.status(413).json({ error: `the body is larger than ${o.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes` });
      return;
    }
    if (e.type === "entity.parse.failed") {
      res.status(400).json({ error: "the body is not valid JSON" });
      return;
    }
    if (e.type === "encoding.unsupported") {
      res.status(415).json({ error: "Content-Encoding is not supported: send the body uncompressed" });
      return;
    }
    if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
      // Anything else the body reader refuses (a cut-off body, an unknown charset): the caller's request, not our bug.
      o.logger.warn({ status: e.status, type: e.type }, "request refused");
      res.status(e.status).json({ error: "the request body cannot be read" });
      return;
    }
    if (isOpscError(err) && err.kind !== "bug") {
      const status = err.code === "api.unknown-job" ? 404 : err.kind === "environment" ? 503 : 400;
      res.status(status).json({
        error: o.redactor.redact(err.message),
        code: err.code,
        ...(err.hint ? { hint: err.hint } : {}),
      });
      return;
    }
    o.logger.error({ err: e.message }, "request failed");
    res.status(500).json({ error: "internal error" });
  });
  return app;
}

/** What the API shows of a work item. */
function view(item: WorkItem): Record<string, unknown> {
  return {
    id: item.id,
    runId: item.runId,
    job: item.job,
    status: item.status,
    result: item.result,
    reason: item.reason,
    commit: item.commit,
    ref: item.ref,
    trigger: item.trigger,
    inputs: item.inputs,
    acceptedAt: item.acceptedAt,
    startedAt: item.startedAt,
    finishedAt: item.finishedAt,
  };
}

function pathParam(p: unknown): string {
  return Array.isArray(p) ? p.join("/") : String(p ?? "");
}

/** GitHub sends JSON, or `payload=<json>` form-encoded when the hook is set up that way. */
function parseGithubBody(body: Buffer, contentType: string | undefined): Record<string, unknown> | undefined {
  if (contentType?.startsWith("application/x-www-form-urlencoded")) {
    const payload = new URLSearchParams(body.toString("utf8")).get("payload");
    return payload === null ? undefined : parseObject(Buffer.from(payload));
  }
  return parseObject(body);
}
