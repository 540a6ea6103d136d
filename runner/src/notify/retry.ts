/**
 * Retries with exponential backoff and jitter for notification deliveries. Only
 * errors marked transient are retried (a timeout, a refused connection, HTTP
 * 5xx or 429, SMTP 4xx); a wrong URL or a rejected credential fails at once.
 */
export interface RetryPolicy {
  /** Total tries, first included. */
  attempts: number;
  /** Wait before the second try; doubled each time, with up to 50% jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 1000, maxDelayMs: 15_000 };

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    /** Server-requested wait (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "DeliveryError";
  }
}

export interface RetryResult<T> {
  value?: T;
  error?: Error;
  attempts: number;
}

export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<RetryResult<T>> {
  let last: Error = new Error("no attempt made");
  for (let n = 1; n <= Math.max(1, policy.attempts); n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (e) {
      last = e instanceof Error ? e : new Error(String(e));
      const transient = !(last instanceof DeliveryError) || last.transient;
      if (!transient || n >= policy.attempts) return { error: last, attempts: n };
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      const wait =
        last instanceof DeliveryError && last.retryAfterMs !== undefined
          ? Math.min(policy.maxDelayMs, last.retryAfterMs)
          : backoff * (1 + Math.random() / 2);
      await sleep(wait);
    }
  }
  return { error: last, attempts: policy.attempts };
}
