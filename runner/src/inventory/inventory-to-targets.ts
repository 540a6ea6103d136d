/**
 * Converts a parsed Ansible inventory into OpsConductor targets (pure).
 *
 * - Every group a host belongs to, directly or through `children`, becomes the
 *   label `group/<name>: "true"` (labels are string -> string, and a host is in
 *   many groups), so `targets: { match: { group/web: "true" } }` selects it.
 * - Vars merge as Ansible merges them: `all`, then groups by depth (parents
 *   before children), same depth by `ansible_group_priority` (default 1; higher
 *   wins), then by name; then the host's own.
 * - ansible_host, ansible_port, ansible_user (and the old ansible_ssh_* names),
 *   ansible_connection=local, ansible_become*, ansible_shell_type become target
 *   fields; passwords and key files are never copied (they belong in
 *   credentials); other `ansible_*` connection settings are dropped with a note.
 * - `all`'s vars become the file's `defaults`.
 */
import { isDeepStrictEqual } from "node:util";
import type { AnsibleInventory } from "./ansible-inventory.js";

export type TargetFields = Record<string, unknown>;

export interface ImportedTarget {
  id: string;
  /** The host's name in the inventory. */
  inventoryName: string;
  /** Fields beyond the defaults. */
  fields: TargetFields;
}

export interface ConvertedInventory {
  defaults: TargetFields;
  targets: ImportedTarget[];
  /** What was not carried over, or changed on the way: for the user to read. */
  notes: string[];
}

const GROUP_LABEL_PREFIX = "group/";
const SECRET_VARS = new Set([
  "ansible_password",
  "ansible_ssh_pass",
  "ansible_ssh_password",
  "ansible_become_password",
  "ansible_become_pass",
  "ansible_sudo_pass",
  "ansible_ssh_private_key_file",
  "ansible_private_key_file",
]);
const FIELD_VARS: Record<string, string> = {
  ansible_host: "host",
  ansible_ssh_host: "host",
  ansible_port: "port",
  ansible_ssh_port: "port",
  ansible_user: "user",
  ansible_ssh_user: "user",
};

export function inventoryToTargets(inv: AnsibleInventory): ConvertedInventory {
  const notes = new Set<string>();
  const depth = groupDepths(inv);
  const parents = parentMap(inv);
  const allVars = inv.groups.get("all")?.vars ?? {};
  const { [PRIORITY_VAR]: _allPriority, ...allVarsShown } = allVars;
  const defaults = toFields(allVarsShown, notes, "all");
  delete defaults.labels;

  const used = new Set<string>();
  const targets: ImportedTarget[] = [];
  for (const [host, ownVars] of inv.hosts) {
    const groups = groupsOf(inv, parents, host);
    const ordered = [...groups]
      .filter((g) => g !== "all")
      .sort(
        (a, b) =>
          (depth.get(a) ?? 0) - (depth.get(b) ?? 0) ||
          priorityOf(inv, a) - priorityOf(inv, b) ||
          (a < b ? -1 : a > b ? 1 : 0),
      );
    const merged: Record<string, unknown> = { ...allVars };
    for (const g of ordered) Object.assign(merged, inv.groups.get(g)?.vars ?? {});
    Object.assign(merged, ownVars);
    // It orders the merge; Ansible does not show it as a host's var.
    delete merged[PRIORITY_VAR];

    const fields = toFields(merged, notes, host);
    if (fields.transport !== "local" && fields.host === undefined) fields.host = host;
    const labels: Record<string, string> = {};
    for (const g of [...ordered].sort()) if (g !== "ungrouped") labels[labelKey(g)] = "true";
    if (Object.keys(labels).length > 0) fields.labels = labels;

    // Keep only what the defaults do not already give.
    for (const [k, v] of Object.entries(defaults)) {
      if (k === "vars") continue;
      if (isDeepStrictEqual(fields[k], v)) delete fields[k];
    }
    if (fields.vars && defaults.vars) {
      const vars = fields.vars as Record<string, unknown>;
      for (const [k, v] of Object.entries(defaults.vars as Record<string, unknown>)) {
        if (isDeepStrictEqual(vars[k], v)) delete vars[k];
      }
      if (Object.keys(vars).length === 0) delete fields.vars;
    }

    let id = targetId(host);
    if (used.has(id)) {
      let n = 2;
      while (used.has(`${id}-${n}`)) n++;
      notes.add(`${host}: id ${id} was taken by another host, named ${id}-${n}`);
      id = `${id}-${n}`;
    }
    used.add(id);
    targets.push({ id, inventoryName: host, fields: inOrder(fields) });
  }
  return { defaults: inOrder(defaults), targets, notes: [...notes] };
}

const FIELD_ORDER = ["host", "port", "user", "transport", "shell", "sudo", "labels", "vars"];

/** Fields in the order people write them (host first), whatever order the vars came in. */
function inOrder(fields: TargetFields): TargetFields {
  const out: TargetFields = {};
  for (const k of FIELD_ORDER) if (fields[k] !== undefined) out[k] = fields[k];
  return out;
}

/** The defaults merged under a target's own fields, key by key for labels and vars (as the loader does). */
export function withDefaults(defaults: TargetFields, fields: TargetFields): TargetFields {
  const out: TargetFields = { ...defaults, ...fields };
  for (const k of ["labels", "vars"]) {
    const d = defaults[k] as Record<string, unknown> | undefined;
    const f = fields[k] as Record<string, unknown> | undefined;
    if (d || f) out[k] = { ...(d ?? {}), ...(f ?? {}) };
  }
  return out;
}

function toFields(vars: Record<string, unknown>, notes: Set<string>, where: string): TargetFields {
  const fields: TargetFields = {};
  const plain: Record<string, unknown> = {};
  let become: boolean | undefined;
  let becomeUser: string | undefined;
  for (const [key, value] of Object.entries(vars)) {
    const field = FIELD_VARS[key];
    if (field === "port") {
      const port = Number(value);
      if (Number.isInteger(port) && port >= 1 && port <= 65535) fields.port = port;
      else notes.add(`${where}: ${key}=${String(value)} is not a port; left out`);
    } else if (field) {
      fields[field] = String(value);
    } else if (SECRET_VARS.has(key)) {
      notes.add(
        `${where}: ${key} not copied: keep it in credentials/ (opsc secrets set) and set the target's credential`,
      );
    } else if (key === "ansible_connection") {
      if (value === "local") fields.transport = "local";
      else if (value !== "ssh" && value !== "smart" && value !== "paramiko") {
        notes.add(
          `${where}: ansible_connection=${String(value)} has no equivalent (OpsConductor connects over SSH or runs locally)`,
        );
      }
    } else if (key === "ansible_become" || key === "ansible_sudo") {
      become = value === true || /^(true|yes|1)$/i.test(String(value));
    } else if (key === "ansible_become_user" || key === "ansible_sudo_user") {
      becomeUser = String(value);
    } else if (key === "ansible_shell_type") {
      if (value === "powershell" || value === "sh") fields.shell = value;
      else notes.add(`${where}: ansible_shell_type=${String(value)} has no equivalent; left out`);
    } else if (key.startsWith("ansible_")) {
      notes.add(`${where}: ${key} has no equivalent; left out`);
    } else {
      plain[key] = value;
    }
  }
  if (become) fields.sudo = becomeUser && becomeUser !== "root" ? { enabled: true, user: becomeUser } : true;
  if (Object.keys(plain).length > 0) fields.vars = plain;
  return fields;
}

const PRIORITY_VAR = "ansible_group_priority";

/** A group's ansible_group_priority as Ansible reads it (int(); default 1). */
function priorityOf(inv: AnsibleInventory, group: string): number {
  const v = inv.groups.get(group)?.vars[PRIORITY_VAR];
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v.trim()) : NaN;
  return Number.isInteger(n) ? n : 1;
}

function parentMap(inv: AnsibleInventory): Map<string, Set<string>> {
  const parents = new Map<string, Set<string>>();
  for (const g of inv.groups.values()) {
    for (const c of g.children) {
      let set = parents.get(c);
      if (!set) parents.set(c, (set = new Set()));
      set.add(g.name);
    }
  }
  return parents;
}

/** Every group that holds the host, directly or through children, plus `all`. */
function groupsOf(inv: AnsibleInventory, parents: Map<string, Set<string>>, host: string): Set<string> {
  const out = new Set<string>(["all"]);
  const queue = [...inv.groups.values()].filter((g) => g.hosts.has(host)).map((g) => g.name);
  // A host listed only in `ungrouped` (or only under `all`) is ungrouped; a host in a real group is not.
  while (queue.length > 0) {
    const g = queue.pop() as string;
    if (out.has(g)) continue;
    out.add(g);
    for (const p of parents.get(g) ?? []) queue.push(p);
  }
  if ([...out].some((g) => g !== "all" && g !== "ungrouped")) out.delete("ungrouped");
  return out;
}

/** Ansible's group depth: `all` is 0, a group is one deeper than its deepest parent. */
function groupDepths(inv: AnsibleInventory): Map<string, number> {
  const parents = parentMap(inv);
  const depth = new Map<string, number>();
  const visit = (g: string, stack: Set<string>): number => {
    const known = depth.get(g);
    if (known !== undefined) return known;
    if (g === "all" || stack.has(g)) return 0;
    stack.add(g);
    let d = 1;
    for (const p of parents.get(g) ?? []) d = Math.max(d, visit(p, stack) + 1);
    stack.delete(g);
    depth.set(g, d);
    return d;
  };
  for (const g of inv.groups.keys()) visit(g, new Set());
  return depth;
}

/** A target id (`^[a-z0-9][a-z0-9._-]*$`, no `..`) from an inventory host name. */
export function targetId(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 128);
  return id === "" ? "host" : id;
}

function labelKey(group: string): string {
  const clean = group.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${GROUP_LABEL_PREFIX}${clean}`.slice(0, 63);
}
