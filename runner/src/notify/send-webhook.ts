/**
 * Delivers a payload to a webhook URL: a POST of JSON signed with the secret,
 * one delivery id for every retry of it (receivers use it to process a
 * delivery once), a time limit per try.
 */
import { randomUUID } from "node:crypto";
import { SIGNATURE_HEADER, signPayload } from "./sign-payload.js";
import { DeliveryError, withRetries, type RetryPolicy, type RetryResult } from "./retry.js";

export interface WebhookRequest {
  url: string;
  /** Serialised payload, already masked. */
  body: string;
  event: string;
  secret?: string;
  timeoutMs: number;
  retry: RetryPolicy;
  fetch?: typeof fetch;
  userAgent?: string;
}

export async function sendWebhook(req: WebhookRequest): Promise<RetryResult<number> & { delivery: string }> {
  const delivery = randomUUID();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": req.userAgent ?? "OpsConductor",
    "x-opsconductor-event": req.event,
    "x-opsconductor-delivery": delivery,
  };
  if (req.secret !== undefined) headers[SIGNATURE_HEADER.toLowerCase()] = signPayload(req.body, req.secret);
  const doFetch = req.fetch ?? fetch;
  const result = await withRetries(req.retry, async () => {
    let res: Response;
    try {
      res = await doFetch(req.url, {
        method: "POST",
        headers,
        body: req.body,
        redirect: "error",
        signal: AbortSignal.timeout(req.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === "TimeoutError") throw new DeliveryError(`no answer within ${req.timeoutMs} ms`, true);
      // A signed body is never re-sent to wherever a redirect points.
      if (err.cause?.message === "unexpected redirect") {
        throw new DeliveryError("the URL answered with a redirect; give the final URL", false);
      }
      throw new DeliveryError(`cannot connect: ${err.cause?.code ?? err.message}`, true);
    }
    // The body is not needed; read it so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return res.status;
    const retryAfter = Number(res.headers.get("retry-after"));
    const transient = res.status >= 500 || res.status === 429 || res.status === 408;
    throw new DeliveryError(
      `HTTP ${res.status} ${res.statusText}`.trim(),
      transient,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    );
  });
  return { ...result, delivery };
}
