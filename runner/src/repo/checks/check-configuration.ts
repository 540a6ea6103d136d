/**
 * Configuration management beyond the schema: a `copy` names files that exist,
 * templates parse and read only variables that exist for every target they are
 * rendered for, `secrets:` names the job's secrets, `notify:` names handlers,
 * and a vars/ file's `match` can select something.
 */
import { TEMPLATE_CONTEXTS, templateVariables } from "../../core/liquid-template.js";
import type { JobDef, TargetDef } from "../../core/repo-model.js";
import { copyFiles } from "../../plan/build-plan.js";
import { labelsMatch, selectTargets } from "../../plan/select-targets.js";
import { targetVars } from "../../plan/target-vars.js";
import { closest } from "../closest.js";
import type { RepoFiles } from "../repo-files.js";
import type { RepoIndex, StepUseSite } from "../repo-index.js";

export function checkConfiguration(index: RepoIndex, files: RepoFiles): void {
  for (const site of index.stepUses()) {
    checkNotify(index, site);
    if (site.raw.copy) checkCopy(index, site, files);
    else if (site.raw.secrets !== undefined) {
      index.report(
        site.source,
        [...site.path, "secrets"],
        "error",
        "copy.secrets-without-template",
        "`secrets:` on a step only gives a `copy` template its secrets",
        "scripts get secrets from the job's `secrets:` as environment variables; remove this list",
        { where: "key" },
      );
    }
  }
  checkVarsFiles(index);
}

function jobOf(index: RepoIndex, site: StepUseSite): JobDef | undefined {
  return site.owner.kind === "job" ? index.model.jobs.get(site.owner.id) : undefined;
}

function checkNotify(index: RepoIndex, site: StepUseSite): void {
  const notify = site.raw.notify;
  if (!notify?.length || site.owner.kind !== "job") return;
  const entry = index.jobs.get(site.owner.id);
  const handlers = (entry?.raw.handlers ?? []).map((h, i) => h?.id ?? `step-${i + 1}`);
  notify.forEach((name, i) => {
    if (handlers.includes(name)) return;
    const guess = closest(name, handlers);
    index.report(
      site.source,
      [...site.path, "notify", i],
      "error",
      "handler.unknown",
      `notify names handler "${name}", which the job does not define`,
      guess
        ? `did you mean "${guess}"?`
        : handlers.length
          ? `the job's handlers: ${handlers.join(", ")}`
          : "define it under the job's `handlers:`",
    );
  });
}

/** Targets a step will be rendered for: its phase's (a handler: every phase's). */
function targetsOf(index: RepoIndex, site: StepUseSite, job: JobDef): TargetDef[] {
  if (site.owner.kind !== "job") return [];
  const phases = job.phases[site.owner.phase] ? [job.phases[site.owner.phase]!] : job.phases;
  const seen = new Map<string, TargetDef>();
  for (const p of phases)
    for (const t of selectTargets(index.model.targets.values(), p.targets)) seen.set(t.id, t);
  return [...seen.values()];
}

function checkCopy(index: RepoIndex, site: StepUseSite, files: RepoFiles): void {
  const copy = site.raw.copy!;
  const job = jobOf(index, site);
  const sources = copyFiles(index.model.files ?? new Set(), copy.src);
  if (sources.length === 0) {
    const guess = closest(copy.src, index.model.files ?? []);
    index.report(
      site.source,
      [...site.path, "copy", "src"],
      "error",
      "copy.missing-src",
      `copy src ${copy.src} is not a file or folder in the repository`,
      guess ? `did you mean "${guess}"?` : "put the file under files/ and commit it",
    );
  }
  const secrets = site.raw.secrets ?? [];
  if (job) {
    secrets.forEach((name, i) => {
      if (name in job.secrets) return;
      index.report(
        site.source,
        [...site.path, "secrets", i],
        "error",
        "copy.unknown-secret",
        `secrets names "${name}", which is not in the job's secrets`,
        Object.keys(job.secrets).length
          ? `the job's secrets: ${Object.keys(job.secrets).join(", ")}`
          : "add it to the job's `secrets:` (NAME: file/key.path) first",
      );
    });
  }
  if (!copy.template) return;
  const targets = job ? targetsOf(index, site, job) : [];
  const merged = targets.map((t) => ({ id: t.id, vars: targetVars(index.model, t, job).vars }));
  for (const file of sources) {
    const text = new TextDecoder("utf-8").decode(files.files.get(file.src) ?? new Uint8Array());
    const { variables, problem } = templateVariables(text);
    const report = (line: number, col: number, code: string, message: string, hint: string): void => {
      index.diagnostics.push({ file: file.src, line, col, severity: "error", code, message, hint });
    };
    if (problem) {
      report(
        problem.line,
        problem.col,
        "template.syntax",
        problem.message,
        "see https://liquidjs.com/tutorials/intro-to-liquid.html",
      );
      continue;
    }
    for (const v of variables) {
      const [root, name] = v.segments;
      if (!(TEMPLATE_CONTEXTS as readonly unknown[]).includes(root)) {
        report(
          v.line,
          v.col,
          "template.unknown-variable",
          `the template reads \`${String(root)}\`, which is not defined`,
          `templates read ${TEMPLATE_CONTEXTS.join(", ")}`,
        );
      } else if (root === "secrets" && typeof name === "string" && !secrets.includes(name)) {
        report(
          v.line,
          v.col,
          "template.unknown-variable",
          `the template reads secrets.${name}, which step "${site.id}" does not list under \`secrets:\``,
          "name the job secret in the step's `secrets:` list",
        );
      } else if (root === "vars" && typeof name === "string") {
        const missing = merged.filter((t) => !(name in t.vars)).map((t) => t.id);
        if (missing.length > 0) {
          report(
            v.line,
            v.col,
            "template.unknown-variable",
            `the template reads vars.${name}, which target${missing.length > 1 ? "s" : ""} ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""} ${missing.length > 1 ? "do" : "does"} not have`,
            "define it in a vars/*.yaml file that matches, in the target's `vars`, or in the job's `vars`; `opsc targets show NAME` lists a target's variables",
          );
        }
      }
    }
  }
}

function checkVarsFiles(index: RepoIndex): void {
  if (index.brokenTargetFiles.length > 0) return;
  const targets = [...index.model.targets.values()];
  for (const entry of index.varsFiles) {
    const match = index.model.vars?.find((v) => v.file === entry.id)?.match;
    if (!match) continue;
    let reported = false;
    for (const label of Object.keys(match)) {
      if (targets.some((t) => label in t.labels)) continue;
      reported = true;
      index.report(
        entry.source,
        ["match", label],
        "warning",
        "vars.unknown-label",
        `no target has the label "${label}", so these variables apply to no target`,
        "check the label's spelling against targets/*.yaml",
        { where: "key" },
      );
    }
    if (!reported && !targets.some((t) => labelsMatch(t, match))) {
      index.report(
        entry.source,
        ["match"],
        "warning",
        "vars.matches-nothing",
        "no target has all of these labels, so these variables apply to no target",
        "check the values against the targets' labels",
        { where: "key" },
      );
    }
  }
}
