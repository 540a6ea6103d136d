/**
 * Signature checks, done on the raw body before anything reads it. GitHub
 * deliveries and generic hooks (signed with the job's own secret) both use the
 * `sha256=<hex>` HMAC scheme. The HMAC is taken over the bytes as received:
 * decoding them as text first would change a body that is not UTF-8, and its
 * correct signature would no longer match.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export class GithubVerifier {
  constructor(private readonly secret: string) {}

  /** False for a missing, malformed or wrong signature; never throws on bad input. */
  async verify(raw: Buffer, signature: string | undefined): Promise<boolean> {
    const hex = /^sha256=([0-9a-f]{64})$/i.exec(signature ?? "")?.[1];
    if (!hex) return false;
    const expected = createHmac("sha256", this.secret).update(raw).digest();
    // Both are 32 bytes: the comparison takes the same time whatever matches.
    return timingSafeEqual(expected, Buffer.from(hex, "hex"));
  }
}

export async function verifyHmac(
  secret: string,
  raw: Buffer,
  signature: string | undefined,
): Promise<boolean> {
  return new GithubVerifier(secret).verify(raw, signature);
}
