/**
 * The ordered value tree SOPS works on, and Go's textual forms of its leaves.
 *
 * sops is written in Go, and both the MAC and the encrypted plaintexts are the
 * Go string forms of typed values (`strconv.Itoa`, `FormatFloat(v,'f',-1,64)`,
 * `True`/`False`, `time.MarshalText`). Re-creating those forms exactly is what
 * makes our files readable by `sops --decrypt` and theirs by us
 * (see notes/sops-format.md §2.3).
 */

/** A YAML timestamp, held as Go's `time.MarshalText` form (RFC 3339, nanoseconds, no trailing zeros). */
export class SopsTime {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A float64 (YAML floats; JSON numbers written by sops before 3.13.2). Ints are `bigint`. */
export class SopsFloat {
  constructor(readonly value: number) {}
  toString(): string {
    return goFormatFloat(this.value);
  }
}

export type SopsLeaf = string | bigint | SopsFloat | boolean | SopsTime;
export type SopsNode = SopsLeaf | null | SopsNode[] | SopsMap;

/** An ordered mapping. Order is part of the MAC, so never round-trip through a plain object. */
export class SopsMap {
  constructor(readonly entries: Array<[string, SopsNode]> = []) {}

  get(key: string): SopsNode | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  has(key: string): boolean {
    return this.entries.some(([k]) => k === key);
  }

  set(key: string, value: SopsNode): void {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i >= 0) this.entries[i] = [key, value];
    else this.entries.push([key, value]);
  }

  delete(key: string): boolean {
    const i = this.entries.findIndex(([k]) => k === key);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }
}

export type SopsType = "str" | "int" | "float" | "bool" | "time";

export function leafType(v: SopsLeaf): SopsType {
  if (typeof v === "string") return "str";
  if (typeof v === "bigint") return "int";
  if (typeof v === "boolean") return "bool";
  if (v instanceof SopsFloat) return "float";
  return "time";
}

/** sops `ToBytes`: the bytes a leaf contributes to the MAC, and the plaintext it is encrypted as. */
export function goToText(v: SopsLeaf): string {
  if (typeof v === "string") return v;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? "True" : "False";
  return v.toString();
}

/** Go `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function goFormatFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const s = String(v);
  const e = s.indexOf("e");
  if (e < 0) return s;
  const negative = s.startsWith("-");
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf(".");
  const digits = mantissa.replace(".", "");
  const pointAt = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (pointAt <= 0) out = "0." + "0".repeat(-pointAt) + digits;
  else if (pointAt >= digits.length) out = digits + "0".repeat(pointAt - digits.length);
  else out = digits.slice(0, pointAt) + "." + digits.slice(pointAt);
  return (negative ? "-" : "") + out;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function fitsInt64(v: bigint): boolean {
  return v >= INT64_MIN && v <= INT64_MAX;
}

/** Go `strconv.Atoi` on 64-bit: optional sign, decimal digits, int64 range. */
export function goParseInt(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s.startsWith("+") ? s.slice(1) : s);
  return fitsInt64(v) ? v : undefined;
}

/** Go `strconv.ParseFloat(s, 64)` for the forms sops writes and people type. */
export function goParseFloat(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Go `strconv.ParseBool`. */
export function goParseBool(s: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return undefined;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * Parses the timestamp forms yaml.v3 accepts for a plain scalar
 * (`2006-1-2T15:4:5.999999999Z07:00`, the same with `t`, `2006-1-2 15:4:5.999999999`,
 * `2006-1-2`) and returns Go's `MarshalText` form, or undefined.
 */
export function parseYamlTimestamp(s: string): SopsTime | undefined {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?))?$/.exec(
      s,
    );
  if (!m) return undefined;
  const [, y, mo, d] = m;
  const hh = m[5] ?? m[10] ?? "0";
  const mi = m[6] ?? m[11] ?? "0";
  const ss = m[7] ?? m[12] ?? "0";
  const frac = m[8] ?? m[13] ?? "";
  const zone = m[9] ?? "Z";
  return makeTime(Number(y), Number(mo), Number(d), Number(hh), Number(mi), Number(ss), frac, zone);
}

/** Go `time.UnmarshalText` (RFC 3339) followed by `MarshalText`. */
export function parseRfc3339(s: string): SopsTime | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const zone = m[8] === "z" ? "Z" : (m[8] ?? "Z");
  return makeTime(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    m[7] ?? "",
    zone,
  );
}

function makeTime(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  frac: string,
  zone: string,
): SopsTime | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > (DAYS[mo - 1] ?? 0) || (mo === 2 && d === 29 && !isLeap(y)))
    return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  if (zone !== "Z") {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return undefined;
  }
  const nanos = frac.slice(1, 10).replace(/0+$/, "");
  const p2 = (n: number) => String(n).padStart(2, "0");
  // Go writes "Z" for any zero offset ("Z07:00" layout).
  const z = zone === "+00:00" || zone === "-00:00" ? "Z" : zone;
  const text = `${String(y).padStart(4, "0")}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(s)}${nanos ? "." + nanos : ""}${z}`;
  return new SopsTime(text);
}

/** Leaf text for people (decrypted output, credential values): `true`, not Go's `True`. */
export function displayText(v: SopsLeaf): string {
  if (typeof v === "boolean") return v ? "true" : "false";
  return goToText(v);
}

/** Walks leaves in document order with their key path (list elements add no component). */
export function* walkLeaves(
  node: SopsNode,
  path: string[] = [],
): Generator<{ path: string[]; leaf: SopsLeaf }> {
  if (node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) yield* walkLeaves(item, path);
    return;
  }
  if (node instanceof SopsMap) {
    for (const [k, v] of node.entries) yield* walkLeaves(v, [...path, k]);
    return;
  }
  yield { path, leaf: node };
}
