/**
 * Webhook bodies are signed like GitHub signs its deliveries: HMAC SHA-256 of
 * the exact bytes sent, hex, in `X-OpsConductor-Signature-256: sha256=<hex>`.
 * A receiver recomputes it over the raw body with the shared secret.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "X-OpsConductor-Signature-256";

export function signPayload(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Constant-time check, for receivers written in TypeScript (and for tests). */
export function verifySignature(
  body: string | Uint8Array,
  secret: string,
  header: string | undefined | null,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signPayload(body, secret));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
