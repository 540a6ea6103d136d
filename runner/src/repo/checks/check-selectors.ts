/**
 * Target selectors that pick nothing are almost always a typo in a label or a
 * name. They are warnings: a job may be written before its hosts exist.
 */
import picomatch from "picomatch";
import { selectTargets } from "../../plan/select-targets.js";
import type { TargetDef, TargetSelector } from "../../core/repo-model.js";
import type { RawSelector } from "../raw-types.js";
import type { RepoIndex } from "../repo-index.js";
import type { NodePath, YamlSource } from "../yaml-source.js";

export function checkSelectors(index: RepoIndex): void {
  // Targets files that did not load would make every verdict here a guess.
  if (index.brokenTargetFiles.length > 0) return;
  // Many jobs share a selector; each distinct one is evaluated once.
  const memo: Memo = { selectors: new Map(), globs: new Map(), targets: [...index.model.targets.values()] };
  for (const entry of index.jobs.values()) {
    const job = index.model.jobs.get(entry.id);
    if (!job) continue;
    const raw = entry.raw;
    if (raw.phases) {
      raw.phases.forEach((p, i) => {
        const path: NodePath = p.targets
          ? ["phases", i, "targets"]
          : raw.targets
            ? ["targets"]
            : ["phases", i, "name"];
        check(
          index,
          memo,
          entry.source,
          path,
          job.phases[i]!.targets,
          p.targets ?? raw.targets,
          `phase "${p.name}"`,
        );
      });
    } else {
      check(
        index,
        memo,
        entry.source,
        raw.targets ? ["targets"] : ["steps"],
        job.phases[0]!.targets,
        raw.targets,
        "this job",
      );
    }
  }
}

interface Memo {
  selectors: Map<string, boolean>;
  globs: Map<string, boolean>;
  targets: TargetDef[];
}

function check(
  index: RepoIndex,
  memo: Memo,
  source: YamlSource,
  path: NodePath,
  selector: TargetSelector,
  raw: RawSelector | undefined,
  what: string,
): void {
  const targets = memo.targets;
  const key = JSON.stringify(selector);
  let matches = memo.selectors.get(key);
  if (matches === undefined) {
    matches = selectTargets(targets, selector).length > 0;
    memo.selectors.set(key, matches);
  }
  if (!matches) {
    const labels = new Map<string, Set<string>>();
    for (const t of targets)
      for (const [k, v] of Object.entries(t.labels)) labels.set(k, (labels.get(k) ?? new Set()).add(v));
    const known = [...labels].map(([k, vs]) => `${k}: ${[...vs].sort().join("|")}`).sort();
    index.report(
      source,
      path,
      "warning",
      "selector.no-match",
      `the targets of ${what} match no target`,
      targets.length === 0
        ? "no targets are defined yet; add a file under targets/"
        : `labels in use: ${known.join(", ") || "none"}`,
    );
  }
  for (const key of ["names", "exclude"] as const) {
    for (const [i, name] of (raw?.[key] ?? []).entries()) {
      let found = memo.globs.get(name);
      if (found === undefined) {
        const m = picomatch(name);
        found = targets.some((t) => m(t.id));
        memo.globs.set(name, found);
      }
      if (found) continue;
      index.report(
        source,
        [...path, key, i],
        "warning",
        "selector.no-match",
        `"${name}" in \`${key}\` matches no target`,
        "check the spelling; globs such as web-* are allowed",
      );
    }
  }
}
