/**
 * What a change to access.yaml does: roles added, removed or changed (their
 * patterns and admin flag), and members whose roles changed. Pure; part of the
 * review `opsc diff` gives a pull request.
 */
import type { AccessPolicy, AccessRole } from "../core/access-policy.js";

export type AccessChange = "added" | "removed" | "changed";

export interface RoleChange {
  name: string;
  change: AccessChange;
  /** What the role allows, before and after (absent on the side where it does not exist). */
  before?: RoleGrant;
  after?: RoleGrant;
}

export interface RoleGrant {
  view: string[];
  run: string[];
  admin: boolean;
}

export interface MemberChange {
  /** `user alice@example.com` or `group ops`. */
  member: string;
  change: AccessChange;
  before: string[];
  after: string[];
}

export interface AccessDiff {
  /** The file itself: added, removed, or changed. */
  change: AccessChange;
  roles: RoleChange[];
  members: MemberChange[];
}

/** Undefined when both sides grant the same. */
export function diffAccess(
  base: AccessPolicy | undefined,
  head: AccessPolicy | undefined,
): AccessDiff | undefined {
  if (!base && !head) return undefined;
  const roleNames = [...new Set([...(base?.roles.keys() ?? []), ...(head?.roles.keys() ?? [])])].sort();
  const roles: RoleChange[] = [];
  for (const name of roleNames) {
    const b = base?.roles.get(name);
    const a = head?.roles.get(name);
    const before = b ? grant(b) : undefined;
    const after = a ? grant(a) : undefined;
    if (JSON.stringify(before) === JSON.stringify(after)) continue;
    roles.push({
      name,
      change: !before ? "added" : !after ? "removed" : "changed",
      ...(before ? { before } : {}),
      ...(after ? { after } : {}),
    });
  }
  const mb = membership(base);
  const ma = membership(head);
  const members: MemberChange[] = [];
  for (const member of [...new Set([...mb.keys(), ...ma.keys()])].sort()) {
    const before = mb.get(member) ?? [];
    const after = ma.get(member) ?? [];
    if (before.join(",") === after.join(",")) continue;
    members.push({
      member,
      change: before.length === 0 ? "added" : after.length === 0 ? "removed" : "changed",
      before,
      after,
    });
  }
  if (base && head && roles.length === 0 && members.length === 0) return undefined;
  return { change: !base ? "added" : !head ? "removed" : "changed", roles, members };
}

function grant(r: AccessRole): RoleGrant {
  return { view: [...r.view].sort(), run: [...r.run].sort(), admin: r.admin };
}

function membership(p: AccessPolicy | undefined): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const m of p?.members ?? []) {
    const key = m.user !== undefined ? `user ${m.user.toLowerCase()}` : `group ${m.group ?? ""}`;
    const set = out.get(key) ?? new Set<string>();
    for (const r of m.roles) set.add(r);
    out.set(key, set);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}
