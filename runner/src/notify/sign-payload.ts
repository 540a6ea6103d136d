/**
 * Webhook bodies are signed like GitHub signs its deliveries: HMAC SHA-256 of
 * the exact bytes sent, hex, in `X-OpsConductor-Signature-256: sha256=<hex>`.
 * A receiver recomputes it over the raw body with the shared secret.
 */
import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "X-OpsConductor-Signature-256";

export function signPayload(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
