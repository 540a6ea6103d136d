/**
 * Discovered SSH servers as new targets (pure): the address as host, the
 * presented keys pinned as host_key, and a comment saying when and what answered.
 */
import { fingerprint, parsePinnedKey } from "../transports/host-key.js";
import type { NewTarget } from "../inventory/merge-targets.js";
import type { ProbeResult } from "./probe-ssh.js";

export function discoveredTargets(
  results: ProbeResult[],
  options: { prefix: string; now: Date },
): NewTarget[] {
  const out: NewTarget[] = [];
  for (const r of results) {
    if (r.state !== "ssh" || r.hostKeys.length === 0) continue;
    const id = `${options.prefix}${r.address.replace(/\./g, "-")}${r.port === 22 ? "" : `-${r.port}`}`;
    const fps = r.hostKeys
      .map((k) => parsePinnedKey(k))
      .filter((k) => k !== null)
      .map((k) => fingerprint(k.blob));
    out.push({
      id,
      fields: {
        host: r.address,
        ...(r.port === 22 ? {} : { port: r.port }),
        host_key: r.hostKeys.length === 1 ? r.hostKeys[0] : r.hostKeys,
      },
      comment:
        `discovered ${options.now.toISOString().slice(0, 10)}: ${r.banner ?? "SSH"} ${fps.join(" ")}`.trim(),
    });
  }
  return out;
}
