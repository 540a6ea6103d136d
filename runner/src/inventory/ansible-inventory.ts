/**
 * An Ansible inventory after parsing, before conversion: the same shape whether
 * it was written as INI or YAML, so one converter serves both.
 */
export interface AnsibleGroup {
  name: string;
  /** Host names listed directly in this group. */
  hosts: Set<string>;
  children: Set<string>;
  vars: Record<string, unknown>;
}

export interface AnsibleInventory {
  /** Group name -> group. Always holds `all` and `ungrouped`. */
  groups: Map<string, AnsibleGroup>;
  /** Host name -> its own vars (merged over every line that lists it), in the order hosts were first seen. */
  hosts: Map<string, Record<string, unknown>>;
}

export function emptyInventory(): AnsibleInventory {
  const inv: AnsibleInventory = { groups: new Map(), hosts: new Map() };
  groupOf(inv, "all");
  groupOf(inv, "ungrouped");
  return inv;
}

/** The group by name, created on first mention (Ansible allows naming a group before defining it). */
export function groupOf(inv: AnsibleInventory, name: string): AnsibleGroup {
  let g = inv.groups.get(name);
  if (!g) inv.groups.set(name, (g = { name, hosts: new Set(), children: new Set(), vars: {} }));
  return g;
}

export function addHost(
  inv: AnsibleInventory,
  group: string,
  host: string,
  vars: Record<string, unknown>,
): void {
  groupOf(inv, group).hosts.add(host);
  inv.hosts.set(host, { ...(inv.hosts.get(host) ?? {}), ...vars });
}

/**
 * Expands Ansible host ranges: `www[01:50].example.com`, `db-[a:f].example.com`,
 * `www[01:50:2].example.com` (a stride). Leading zeros set the width.
 */
export function expandHostPattern(pattern: string): string[] | string {
  const m = /^(.*?)\[([^\]]+)\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head = "", range = "", tail = ""] = m;
  const parts = range.split(":");
  if (parts.length < 2 || parts.length > 3)
    return `"[${range}]" is not a range: write [START:END] or [START:END:STEP]`;
  const [start = "", end = "", stepText = "1"] = parts;
  const step = Number(stepText);
  if (!Number.isInteger(step) || step < 1) return `the step of "[${range}]" must be a positive whole number`;
  const values: string[] = [];
  if (/^\d+$/.test(start) && /^\d+$/.test(end)) {
    const width = start.length > 1 && start.startsWith("0") ? start.length : 0;
    const from = Number(start);
    const to = Number(end);
    if (to < from) return `"[${range}]" ends before it starts`;
    if ((to - from) / step > 65_535) return `"[${range}]" expands to too many hosts`;
    for (let i = from; i <= to; i += step) values.push(String(i).padStart(width, "0"));
  } else if (/^[a-z]$/i.test(start) && /^[a-z]$/i.test(end)) {
    const from = start.charCodeAt(0);
    const to = end.charCodeAt(0);
    if (to < from) return `"[${range}]" ends before it starts`;
    for (let c = from; c <= to; c += step) values.push(String.fromCharCode(c));
  } else {
    return `"[${range}]" is not a range of numbers or of letters`;
  }
  const out: string[] = [];
  for (const v of values) {
    const rest = expandHostPattern(`${v}${tail}`);
    if (typeof rest === "string") return rest;
    for (const r of rest) out.push(`${head}${r}`);
  }
  return out;
}
