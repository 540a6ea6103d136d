/**
 * Probes many addresses with a bounded number of connections at once; each
 * probe has its own time limit, so a scan's length is bounded by
 * (addresses / concurrency) x per-probe time.
 */
import { boundedPool } from "../core/bounded-pool.js";
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
  const probe = opts.probe ?? probeSsh;
  return boundedPool(
    addresses,
    opts.concurrency,
    async (address) => {
      const r = await probe(address, opts.port, opts.timeoutMs);
      opts.onResult?.(r);
      return r;
    },
    opts.signal ? { signal: opts.signal } : {},
  );
}
