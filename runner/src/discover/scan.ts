/**
 * Probes many addresses with a bounded number of connections at once; each
 * probe has its own time limit, so a scan's length is bounded by
 * (addresses / concurrency) x per-probe time.
 */
import { probeSsh, type ProbeResult } from "./probe-ssh.js";

export interface ScanOptions {
  port: number;
  concurrency: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Told each result as it arrives (progress). */
  onResult?: (r: ProbeResult) => void;
  probe?: typeof probeSsh;
}

/** Results in the order of `addresses`. */
export async function scanAddresses(addresses: string[], opts: ScanOptions): Promise<ProbeResult[]> {
  const results: ProbeResult[] = new Array(addresses.length);
  const probe = opts.probe ?? probeSsh;
  let next = 0;
  const worker = async () => {
    while (next < addresses.length && !opts.signal?.aborted) {
      const i = next++;
      const r = await probe(addresses[i] as string, opts.port, opts.timeoutMs);
      results[i] = r;
      opts.onResult?.(r);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.concurrency, addresses.length)) }, worker),
  );
  return results.filter((r) => r !== undefined);
}
