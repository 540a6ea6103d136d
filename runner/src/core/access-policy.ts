/**
 * Who may do what: the access policy of `access.yaml` (schema/access.schema.json)
 * and its evaluation. Pure: the server asks `may(...)` for every request with
 * the policy at the head of the default branch.
 */
import picomatch from "picomatch";
import type { SourcePosition } from "./errors.js";

export type Permission = "view" | "run" | "admin";

export interface AccessRole {
  name: string;
  /** Job id patterns whose runs, definitions, targets and schedules the role may see. */
  view: string[];
  /** Job id patterns the role may start. */
  run: string[];
  /** Tokens and other users' sessions. */
  admin: boolean;
  source: SourcePosition;
}

export interface AccessMember {
  /** A verified OIDC email or a token's user. */
  user?: string;
  /** An OIDC `groups` claim value. */
  group?: string;
  roles: string[];
  source: SourcePosition;
}

export interface AccessPolicy {
  roles: Map<string, AccessRole>;
  members: AccessMember[];
}

/** How an identity was proven; recorded with every run and audit line. */
export type ActorVia =
  "oidc" | "token" | "bootstrap-token" | "github" | "gitlab" | "gitea" | "hook" | "schedule" | "cli";

/** An authenticated caller. */
export interface Identity {
  /** The OIDC email (or subject), a token's user, a forge login. */
  user: string;
  via: ActorVia;
  /** OIDC groups claim. */
  groups: string[];
  /** The personal token's name, for `via: "token"`. */
  token?: string;
}

/** The bootstrap token (OPSC_API_TOKEN) may do everything, with or without a policy. */
export function isBootstrap(identity: Identity): boolean {
  return identity.via === "bootstrap-token";
}

/** Names of the roles the policy gives an identity, sorted, without duplicates. */
export function rolesOf(policy: AccessPolicy | undefined, identity: Identity): string[] {
  if (isBootstrap(identity)) return ["admin"];
  if (!policy) return [];
  const out = new Set<string>();
  const user = identity.user.toLowerCase();
  for (const m of policy.members) {
    const hit =
      (m.user !== undefined && m.user.toLowerCase() === user) ||
      (m.group !== undefined && identity.via === "oidc" && identity.groups.includes(m.group));
    if (hit) for (const r of m.roles) if (policy.roles.has(r)) out.add(r);
  }
  return [...out].sort();
}

const matchers = new Map<string, (id: string) => boolean>();

/** `*` matches any run of characters, `/` included (bash-style): `deploy/*` covers `deploy/eu/web`. */
export function jobPatternMatches(pattern: string, jobId: string): boolean {
  let m = matchers.get(pattern);
  if (!m) {
    m = picomatch(pattern, { bash: true, dot: true });
    if (matchers.size > 1000) matchers.clear();
    matchers.set(pattern, m);
  }
  return m(jobId);
}

/**
 * Whether an identity may do `action`; `jobId` for view and run of one job
 * (without it, `view` asks whether the identity may see anything at all).
 * Without a policy only the bootstrap token may do anything.
 */
export function may(
  policy: AccessPolicy | undefined,
  identity: Identity,
  action: Permission,
  jobId?: string,
): boolean {
  if (isBootstrap(identity)) return true;
  if (!policy) return false;
  for (const name of rolesOf(policy, identity)) {
    const role = policy.roles.get(name)!;
    if (action === "admin" && role.admin) return true;
    if (action === "view" || action === "run") {
      const patterns = action === "view" ? role.view : role.run;
      if (jobId === undefined ? patterns.length > 0 : patterns.some((p) => jobPatternMatches(p, jobId)))
        return true;
    }
  }
  return false;
}
