/**
 * Signature checks, done on the raw body before anything reads it. GitHub
 * deliveries and generic hooks (signed with the job's own secret) both use the
 * `sha256=<hex>` HMAC scheme and go through @octokit/webhooks `verify`, which
 * compares in constant time.
 */
import { Webhooks } from "@octokit/webhooks";

export class GithubVerifier {
  private readonly webhooks: Webhooks;
  constructor(secret: string) {
    this.webhooks = new Webhooks({ secret });
  }

  /** False for a missing, malformed or wrong signature; never throws on bad input. */
  async verify(raw: Buffer, signature: string | undefined): Promise<boolean> {
    if (!signature || !/^sha256=[0-9a-f]{64}$/i.test(signature)) return false;
    try {
      return await this.webhooks.verify(raw.toString("utf8"), signature);
    } catch {
      return false;
    }
  }
}

export async function verifyHmac(
  secret: string,
  raw: Buffer,
  signature: string | undefined,
): Promise<boolean> {
  return new GithubVerifier(secret).verify(raw, signature);
}
