/**
 * The message of anything thrown, for a log line, an error or a record: a
 * `throw` may carry any value, so `(e as Error).message` can be `undefined`.
 */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
