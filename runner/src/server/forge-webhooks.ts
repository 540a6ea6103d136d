/**
 * Push webhooks from forges other than GitHub. GitLab sends the webhook's
 * secret token as-is in `X-Gitlab-Token`; Gitea and Forgejo sign the raw body
 * (`X-Gitea-Signature` / `X-Forgejo-Signature`: HMAC-SHA256, hex). Both are
 * checked before the body is parsed, with OPSC_WEBHOOK_SECRET. The pusher's
 * login becomes the recorded actor.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import express from "express";
import type { Logger } from "pino";
import { asBuffer, parseObject } from "./request-body.js";
import type { RunnerService } from "./runner-service.js";
import type { ServerMetrics } from "./server-metrics.js";

export interface ForgeRouteOptions {
  service: RunnerService;
  metrics: ServerMetrics;
  logger: Logger;
  webhookSecret: string;
  raw: express.RequestHandler;
}

export function forgeRoutes(o: ForgeRouteOptions): express.Router {
  const r = express.Router();

  r.post("/gitlab", o.raw, (req, res) => {
    const body = asBuffer(req.body);
    if (!sameSecret(req.get("x-gitlab-token") ?? "", o.webhookSecret)) {
      o.metrics.deliveries.inc({ source: "gitlab", outcome: "bad-signature" });
      o.logger.warn({ forge: "gitlab" }, "webhook refused: missing or wrong X-Gitlab-Token");
      res.status(401).json({ error: "missing or invalid X-Gitlab-Token" });
      return;
    }
    const payload = parseObject(body);
    if (!payload) {
      res.status(400).json({ error: "the body is not a JSON object" });
      return;
    }
    const event = req.get("x-gitlab-event") ?? "";
    if (event !== "Push Hook" || payload.object_kind !== "push") {
      o.metrics.deliveries.inc({ source: "gitlab", outcome: "ignored" });
      res.status(202).json({ ignored: `event ${event || "(none)"} triggers nothing` });
      return;
    }
    // Older GitLab versions send no delivery id: the body's hash then identifies the delivery.
    const delivery = req.get("x-gitlab-event-uuid") ?? req.get("x-gitlab-webhook-uuid") ?? sha(body);
    const answer = o.service.acceptForgePush("gitlab", delivery, {
      ref: str(payload.ref),
      before: str(payload.before),
      after: str(payload.after),
      pusher: str(payload.user_username) ?? str(payload.user_name),
    });
    res.status(answer.status).json(answer.body);
  });

  r.post("/gitea", o.raw, (req, res) => {
    const body = asBuffer(req.body);
    const signature = req.get("x-gitea-signature") ?? req.get("x-forgejo-signature") ?? "";
    if (!validHmac(o.webhookSecret, body, signature)) {
      o.metrics.deliveries.inc({ source: "gitea", outcome: "bad-signature" });
      o.logger.warn({ forge: "gitea" }, "webhook refused: missing or wrong X-Gitea-Signature");
      res.status(401).json({ error: "missing or invalid X-Gitea-Signature (hex HMAC-SHA256 of the body)" });
      return;
    }
    const payload = parseObject(body);
    if (!payload) {
      res.status(400).json({ error: "the body is not a JSON object" });
      return;
    }
    const event = req.get("x-gitea-event") ?? req.get("x-forgejo-event") ?? "";
    if (event !== "push") {
      o.metrics.deliveries.inc({ source: "gitea", outcome: "ignored" });
      res.status(202).json({ ignored: `event ${event || "(none)"} triggers nothing` });
      return;
    }
    const pusher = payload.pusher as { login?: unknown; username?: unknown } | undefined;
    const delivery = req.get("x-gitea-delivery") ?? req.get("x-forgejo-delivery") ?? sha(body);
    const answer = o.service.acceptForgePush("gitea", delivery, {
      ref: str(payload.ref),
      before: str(payload.before),
      after: str(payload.after),
      pusher: str(pusher?.login) ?? str(pusher?.username),
    });
    res.status(answer.status).json(answer.body);
  });

  return r;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function sha(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 32);
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function validHmac(secret: string, body: Buffer, signature: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(signature)) return false;
  const want = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(signature, "hex"));
}
