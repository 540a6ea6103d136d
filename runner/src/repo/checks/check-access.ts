/**
 * access.yaml beyond its schema: every role a member names exists, no user or
 * group is listed twice, and every job pattern matches a job (a typo would
 * silently grant nothing). Jobs no role may run are pointed out too.
 */
import { jobPatternMatches } from "../../core/access-policy.js";
import { closest } from "../closest.js";
import type { RepoIndex } from "../repo-index.js";

export function checkAccess(index: RepoIndex): void {
  const access = index.access;
  if (!access) return;
  const { raw, source } = access;
  const roleNames = Object.keys(raw.roles);
  const jobIds = [...index.jobs.keys()];
  const seen = new Map<string, number>();
  for (const [i, m] of raw.members.entries()) {
    for (const [j, role] of m.roles.entries()) {
      if (raw.roles[role] !== undefined) continue;
      const guess = closest(role, roleNames);
      index.report(
        source,
        ["members", i, "roles", j],
        "error",
        "access.unknown-role",
        `role "${role}" is not defined under roles:`,
        guess
          ? `did you mean "${guess}"?`
          : `define it under roles:, or use one of: ${roleNames.join(", ") || "(none defined)"}`,
      );
    }
    const key = m.user !== undefined ? `user ${m.user.toLowerCase()}` : `group ${m.group ?? ""}`;
    const first = seen.get(key);
    if (first !== undefined) {
      index.report(
        source,
        ["members", i, m.user !== undefined ? "user" : "group"],
        "error",
        "access.duplicate-member",
        `${key} is listed twice (first as members[${first}])`,
        "list each user or group once, with all its roles",
      );
    } else seen.set(key, i);
  }
  // Without any job (or with broken job files) a pattern that matches nothing proves no typo.
  if (jobIds.length === 0) return;
  for (const [name, role] of Object.entries(raw.roles)) {
    for (const kind of ["view", "run"] as const) {
      for (const [k, pattern] of (role?.[kind] ?? []).entries()) {
        if (jobIds.some((id) => jobPatternMatches(pattern, id))) continue;
        const guess = closest(pattern, jobIds);
        index.report(
          source,
          ["roles", name, kind, k],
          "warning",
          "access.pattern-matches-nothing",
          `"${pattern}" matches no job, so it grants nothing`,
          guess ? `did you mean "${guess}"?` : "job ids are paths under jobs/ without .yaml: deploy/web",
        );
      }
    }
  }
  const runnable = [...index.model.jobs.values()].filter((j) => j.on.manual).map((j) => j.id);
  const runPatterns = Object.values(raw.roles).flatMap((r) => r?.run ?? []);
  const nobody = runnable.filter((id) => !runPatterns.some((p) => jobPatternMatches(p, id)));
  if (nobody.length > 0) {
    index.report(
      source,
      ["roles"],
      "warning",
      "access.job-without-runner",
      `no role may run ${nobody.length === 1 ? "job" : "jobs"} ${nobody.map((id) => `"${id}"`).join(", ")}`,
      "add the job (or a pattern) to a role's run: list, or set on.manual: false if it is never started by hand",
      { where: "key" },
    );
  }
}
