/**
 * The HTTP door of `opsc serve`: express routes that check who is calling,
 * then translate the request into a RunnerService call. Signatures are checked
 * on the raw body before it is parsed or looked at.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { isOpscError } from "../core/errors.js";
import type { Redactor } from "../secrets/redactor.js";
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
  /** Bearer token for /api; without one the API answers 403. */
  apiToken?: string;
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
  const raw = express.raw({ type: () => true, limit: o.bodyLimit ?? DEFAULT_BODY_LIMIT });
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
        { delivery: req.get("x-github-delivery") },
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

  app.post("/hooks/*job", raw, async (req, res) => {
    const jobId = pathParam(req.params.job);
    const body = asBuffer(req.body);
    // The secret is read at the mirror's current head without fetching: an unsigned caller must not make us fetch.
    const known = await o.service.jobAtHead(jobId, false);
    const secret = await o.service.hookSecret(known.job, known.commit);
    if (secret === undefined) {
      res.status(404).json({ error: `job "${jobId}" takes no webhook (set on.webhook.secret)` });
      return;
    }
    const signature = req.get("x-hub-signature-256") ?? req.get("x-signature-256");
    if (!(await verifyHmac(secret, body, signature))) {
      o.metrics.deliveries.inc({ source: "webhook", outcome: "bad-signature" });
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
      { kind: "webhook", actor: "hook", detail: { hook: jobId, ...(delivery ? { delivery } : {}) } },
      delivery ? `hook-${jobId}-${delivery}` : undefined,
    );
    res.status(answer.status).json(answer.body);
  });

  const api = express.Router();
  api.use((req, res, next) => {
    if (!o.apiToken) {
      res.status(403).json({ error: "the HTTP API is disabled: start the runner with OPSC_API_TOKEN set" });
      return;
    }
    const given = /^Bearer (.+)$/i.exec(req.get("authorization") ?? "")?.[1];
    if (!given || !sameSecret(given, o.apiToken)) {
      res.status(401).set("WWW-Authenticate", "Bearer").json({ error: "missing or wrong bearer token" });
      return;
    }
    next();
  });
  api.post("/jobs/*job/runs", json, async (req, res) => {
    const jobId = pathParam((req.params as Record<string, unknown>).job);
    const body = (req.body ?? {}) as { inputs?: unknown; actor?: unknown };
    if (body.inputs !== undefined && !isRecord(body.inputs)) {
      res.status(400).json({ error: "`inputs` must be an object" });
      return;
    }
    const target = await o.service.jobAtHead(jobId);
    if (!target.job.on.manual) {
      res.status(403).json({ error: `job "${jobId}" does not allow manual runs (on.manual: false)` });
      return;
    }
    const actor = typeof body.actor === "string" && body.actor !== "" ? body.actor.slice(0, 100) : "api";
    const answer = o.service.acceptRun(target, (body.inputs as Record<string, unknown>) ?? {}, {
      kind: "api",
      actor,
    });
    res.status(answer.status).json(answer.body);
  });
  api.get("/runs", (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    res.json({ runs: o.service.runs(limit).map(view) });
  });
  api.get("/runs/:id", (req, res) => {
    const item = o.service.run(String(req.params.id));
    if (!item) res.status(404).json({ error: `no run "${String(req.params.id)}"` });
    else res.json(view(item));
  });
  if (o.stateDir) {
    api.use(
      dashboardApi({
        service: o.service,
        redactor: o.redactor,
        logger: o.logger,
        stateDir: o.stateDir,
        ...(o.repoUrl ? { repoUrl: o.repoUrl } : {}),
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

function sameSecret(a: string, b: string): boolean {
  // Hash first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function asBuffer(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

function pathParam(p: unknown): string {
  return Array.isArray(p) ? p.join("/") : String(p ?? "");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** GitHub sends JSON, or `payload=<json>` form-encoded when the hook is set up that way. */
function parseGithubBody(body: Buffer, contentType: string | undefined): Record<string, unknown> | undefined {
  if (contentType?.startsWith("application/x-www-form-urlencoded")) {
    const payload = new URLSearchParams(body.toString("utf8")).get("payload");
    return payload === null ? undefined : parseObject(Buffer.from(payload));
  }
  return parseObject(body);
}
