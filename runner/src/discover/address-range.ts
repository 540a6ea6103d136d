/**
 * The addresses `opsc discover` scans: IPv4 CIDR blocks (`10.0.1.0/24`) and
 * single addresses. Network and broadcast addresses of blocks up to /30 are
 * left out, as every scanner does; ranges larger than a /16 (65,536
 * addresses) need --force so a typo cannot sweep a whole network.
 */
import { usageError } from "../core/errors.js";

export const MAX_PREFIX_WITHOUT_FORCE = 16;

export function expandAddresses(specs: string[], options: { force?: boolean } = {}): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  for (const spec of specs) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(spec.trim());
    const base = m?.[1] ? toInt(m[1]) : undefined;
    const prefix = m?.[2] === undefined ? 32 : Number(m[2]);
    if (spec.includes(":")) {
      throw usageError(
        "discover.bad-range",
        `"${spec}": IPv6 is not scanned (its blocks are too large to sweep)`,
        {
          hint: "give IPv4 blocks, or add IPv6 hosts to a targets file by hand",
        },
      );
    }
    if (!m || base === undefined || prefix > 32) {
      throw usageError("discover.bad-range", `"${spec}" is not an IPv4 address or CIDR block`, {
        hint: "write 10.0.1.0/24 or 10.0.1.5 (IPv6 is not scanned)",
      });
    }
    if (prefix < MAX_PREFIX_WITHOUT_FORCE && !options.force) {
      throw usageError(
        "discover.range-too-large",
        `${spec} holds ${2 ** (32 - prefix)} addresses; more than a /${MAX_PREFIX_WITHOUT_FORCE} needs --force`,
        {
          hint: "scan smaller blocks, or add --force if you mean it",
        },
      );
    }
    const size = 2 ** (32 - prefix);
    const network = base - (base % size);
    const [first, last] = prefix <= 30 ? [network + 1, network + size - 2] : [network, network + size - 1];
    for (let a = first; a <= last; a++) {
      if (seen.has(a)) continue;
      seen.add(a);
      out.push(toText(a));
    }
  }
  return out;
}

function toInt(text: string): number | undefined {
  const parts = text.split(".").map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function toText(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}
