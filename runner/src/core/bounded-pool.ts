/**
 * Runs `work` over `items` with at most `limit` calls in flight: many hosts,
 * probes or files at once, but never all at once.
 */
export interface BoundedPoolOptions {
  /** Once aborted, items not yet started are not started (they are left out of the results). */
  signal?: AbortSignal;
}

/**
 * Results come in the order of `items`, whatever order the work finishes in.
 * After the first failure no new item starts; the calls already running are
 * waited for (so nothing runs once this settles) and the first error is thrown.
 */
export async function boundedPool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  options: BoundedPoolOptions = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const started: boolean[] = new Array<boolean>(items.length).fill(false);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed && !options.signal?.aborted) {
      const i = next++;
      started[i] = true;
      try {
        results[i] = await work(items[i] as T, i);
      } catch (e) {
        if (!failed) firstError = e;
        failed = true;
      }
    }
  };
  const size = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: size }, worker));
  if (failed) throw firstError;
  return next === items.length ? results : results.filter((_, i) => started[i]);
}
