/** `opsc libraries list`: what opsconductor.yaml declares and what the lock pins, with each commit's age. */
import { planLibraries } from "../repo/library-lock.js";
import type { RepoFiles } from "../repo/repo-files.js";

export interface LibraryListing {
  name: string;
  url: string;
  ref: string;
  path: string;
  /** Absent: not locked yet. */
  commit?: string;
  committedAt?: string;
  /** Whole days since the locked commit was made. */
  ageDays?: number;
  /** The lock disagrees with the declaration (`opsc validate` says how). */
  stale: boolean;
}

export function listLibraries(files: RepoFiles, now: Date): LibraryListing[] {
  const plan = planLibraries(files);
  const pinned = new Set(plan.pins.map((p) => p.name));
  return plan.declared.map((d) => {
    const e = plan.lock?.libraries[d.name];
    const ageDays =
      e?.committed_at !== undefined
        ? Math.floor((now.getTime() - Date.parse(e.committed_at)) / 86_400_000)
        : undefined;
    return {
      name: d.name,
      url: d.url,
      ref: d.ref,
      path: d.path,
      ...(e ? { commit: e.commit } : {}),
      ...(e?.committed_at !== undefined ? { committedAt: e.committed_at } : {}),
      ...(ageDays !== undefined && !Number.isNaN(ageDays) ? { ageDays } : {}),
      stale: e !== undefined && !pinned.has(d.name),
    };
  });
}
