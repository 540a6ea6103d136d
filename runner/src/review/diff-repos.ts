/**
 * What a change to the automation repository does to every job: the review a
 * pull request gets (issue 7). Pure: two loaded models in, a description of
 * the differences out. It reads only the model, so it never decrypts a
 * credential and never connects to a target; credentials appear by reference
 * name only.
 */
import { targetVars } from "../plan/target-vars.js";
import { CronExpressionParser } from "cron-parser";
import type {
  JobDef,
  Phase,
  RepoModel,
  ScheduleTrigger,
  StepDef,
  StepUse,
  TargetDef,
} from "../core/repo-model.js";
import { isRecord } from "../core/is-record.js";
import { selectTargets } from "../plan/select-targets.js";
import { diffAccess, type AccessDiff } from "./diff-access.js";

export type Change = "added" | "removed" | "changed";

export interface FieldChange {
  /** Dotted path of what changed: `with.packages`, `strategy.parallel`, `run`. */
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface ScheduleSide {
  cron: string;
  timezone: string;
  catchUp: ScheduleTrigger["catchUp"];
  /** The next fire times from the diff's reference time, ISO 8601 in UTC. */
  next: string[];
}

export interface ScheduleChange {
  change: Change;
  before?: ScheduleSide;
  after?: ScheduleSide;
}

export interface StepChange {
  phase: string;
  id: string;
  change: Change;
  /** For `changed`: what differs. For `added`/`removed`: what the step is (uses or run). */
  fields: FieldChange[];
}

export interface LibraryStepChange {
  id: string;
  change: Change;
  fields: FieldChange[];
}

export interface TargetChange {
  name: string;
  /** Names of the target's fields that changed (host, credential, hostKeys...), not their values. */
  fields: string[];
}

export interface JobDiff {
  id: string;
  change: Change | "unchanged";
  triggers: { added: string[]; removed: string[] };
  schedules: ScheduleChange[];
  targets: { before: number; after: number; added: string[]; removed: string[]; changed: TargetChange[] };
  inputs: Array<{ name: string; change: Change; before?: unknown; after?: unknown }>;
  steps: StepChange[];
  /** Library steps (under steps/) this job uses whose definition changed. */
  library: LibraryStepChange[];
  /** Credential references (`prod/db.password`) the job reads, by name only. */
  credentials: { added: string[]; removed: string[] };
  /** Other job settings: description, strategy, concurrency, timeout, env, notify, phase selectors. */
  settings: FieldChange[];
}

export interface CredentialFileChange {
  name: string;
  change: Change;
  /** Key paths (names, never values) added or removed in the encrypted file. */
  keysAdded: string[];
  keysRemoved: string[];
}

/** A step library whose locked commit changed: every step of it whose content changed. */
export interface LibraryDiff {
  name: string;
  change: Change;
  before?: { ref: string; commit: string };
  after?: { ref: string; commit: string };
  steps: LibraryStepChange[];
}

export interface RepoDiff {
  /** When the next fire times were computed from. */
  at: string;
  jobs: JobDiff[];
  credentialFiles: CredentialFileChange[];
  /** What changed in access.yaml; absent when nothing did. */
  access?: AccessDiff;
  /** Libraries whose lock changed (absent when none did). */
  libraries?: LibraryDiff[];
}

export interface DiffOptions {
  /** Reference time for next fire times (a fixed value makes output reproducible). */
  at: Date;
  /** How many next fire times per schedule. */
  nextCount?: number;
}

export function diffRepos(base: RepoModel, head: RepoModel, options: DiffOptions): RepoDiff {
  const ids = [...new Set([...base.jobs.keys(), ...head.jobs.keys()])].sort();
  const jobs = ids.map((id) => diffJob(id, base, head, options));
  const access = diffAccess(base.access, head.access);
  const libraries = diffLibraries(base, head);
  return {
    at: options.at.toISOString(),
    jobs,
    credentialFiles: diffCredentialFiles(base, head),
    ...(access ? { access } : {}),
    ...(libraries.length ? { libraries } : {}),
  };
}

/** Every step of a library whose pinned commit changed, used by a job or not: the update is reviewed whole. */
function diffLibraries(base: RepoModel, head: RepoModel): LibraryDiff[] {
  const names = [...new Set([...(base.libraries?.keys() ?? []), ...(head.libraries?.keys() ?? [])])].sort();
  const out: LibraryDiff[] = [];
  for (const name of names) {
    const b = base.libraries?.get(name);
    const a = head.libraries?.get(name);
    if (b && a && b.commit === a.commit && b.path === a.path) continue;
    const prefix = `${name}/`;
    const ids = [
      ...new Set([...base.steps.keys(), ...head.steps.keys()].filter((id) => id.startsWith(prefix))),
    ].sort();
    const steps: LibraryStepChange[] = [];
    for (const id of ids) {
      const before = b ? base.steps.get(id) : undefined;
      const after = a ? head.steps.get(id) : undefined;
      if (!before && after)
        steps.push({ id, change: "added", fields: fieldChanges({}, libraryFields(after)) });
      else if (before && !after)
        steps.push({ id, change: "removed", fields: fieldChanges(libraryFields(before), {}) });
      else if (before && after) {
        const fields = fieldChanges(libraryFields(before), libraryFields(after));
        if (fields.length) steps.push({ id, change: "changed", fields });
      }
    }
    out.push({
      name,
      change: !b ? "added" : !a ? "removed" : "changed",
      ...(b ? { before: { ref: b.ref, commit: b.commit } } : {}),
      ...(a ? { after: { ref: a.ref, commit: a.commit } } : {}),
      steps,
    });
  }
  return out;
}

function diffJob(id: string, base: RepoModel, head: RepoModel, options: DiffOptions): JobDiff {
  const before = base.jobs.get(id);
  const after = head.jobs.get(id);
  const targetsBefore = jobTargets(base, before);
  const targetsAfter = jobTargets(head, after);
  const diff: JobDiff = {
    id,
    change: "unchanged",
    triggers: setDiff(triggerNames(before), triggerNames(after)),
    schedules: diffSchedules(before?.on.schedule ?? [], after?.on.schedule ?? [], options),
    targets: {
      before: targetsBefore.size,
      after: targetsAfter.size,
      ...setDiff([...targetsBefore.keys()], [...targetsAfter.keys()]),
      changed: changedTargets(mergedVars(base, targetsBefore, before), mergedVars(head, targetsAfter, after)),
    },
    inputs: diffInputs(before?.inputs ?? {}, after?.inputs ?? {}),
    steps: diffSteps(before?.phases ?? [], after?.phases ?? []),
    library: diffLibrary(base, head, before, after),
    credentials: setDiff(credentialRefs(base, before), credentialRefs(head, after)),
    settings: before && after ? diffSettings(before, after) : [],
  };
  diff.change = !before ? "added" : !after ? "removed" : hasChanges(diff) ? "changed" : "unchanged";
  return diff;
}

function hasChanges(d: JobDiff): boolean {
  return (
    d.triggers.added.length +
      d.triggers.removed.length +
      d.schedules.length +
      d.targets.added.length +
      d.targets.removed.length +
      d.targets.changed.length +
      d.inputs.length +
      d.steps.length +
      d.library.length +
      d.credentials.added.length +
      d.credentials.removed.length +
      d.settings.length >
    0
  );
}

function setDiff(before: Iterable<string>, after: Iterable<string>): { added: string[]; removed: string[] } {
  const a = new Set(before);
  const b = new Set(after);
  return { added: [...b].filter((x) => !a.has(x)).sort(), removed: [...a].filter((x) => !b.has(x)).sort() };
}

/** Triggers other than schedules (those get their own section with fire times), as one readable line each. */
function triggerNames(job: JobDef | undefined): string[] {
  if (!job) return [];
  const out: string[] = [];
  const push = job.on.push;
  if (push) {
    const branches = push.branches.length ? push.branches.join(", ") : "any branch";
    out.push(`push (branches: ${branches}${push.paths.length ? `; paths: ${push.paths.join(", ")}` : ""})`);
  }
  const hook = job.on.webhook;
  if (hook) {
    const parts = [
      hook.types.length ? `types: ${hook.types.join(", ")}` : "",
      hook.secret ? `secret: ${hook.secret}` : "",
    ];
    const detail = parts.filter(Boolean).join("; ");
    out.push(`webhook${detail ? ` (${detail})` : ""}`);
  }
  if (job.on.manual) out.push("manual");
  return out;
}

function scheduleKey(s: ScheduleTrigger): string {
  return `${s.cron}\u0000${s.timezone}\u0000${s.catchUp}`;
}

function scheduleSide(s: ScheduleTrigger, options: DiffOptions): ScheduleSide {
  return { cron: s.cron, timezone: s.timezone, catchUp: s.catchUp, next: nextFireTimes(s, options) };
}

/** The next fire times of a schedule in its time zone; empty when the expression cannot be parsed. */
export function nextFireTimes(s: Pick<ScheduleTrigger, "cron" | "timezone">, options: DiffOptions): string[] {
  try {
    const expr = CronExpressionParser.parse(s.cron, { currentDate: options.at, tz: s.timezone });
    const out: string[] = [];
    for (let i = 0; i < (options.nextCount ?? 3); i++) out.push(expr.next().toDate().toISOString());
    return out;
  } catch {
    return [];
  }
}

/**
 * Schedules removed and added are paired in order as "changed", so moving a
 * job from 03:00 to 04:00 reads as one change with both fire times.
 */
function diffSchedules(
  before: ScheduleTrigger[],
  after: ScheduleTrigger[],
  options: DiffOptions,
): ScheduleChange[] {
  const afterKeys = new Set(after.map(scheduleKey));
  const beforeKeys = new Set(before.map(scheduleKey));
  const removed = before.filter((s) => !afterKeys.has(scheduleKey(s)));
  const added = after.filter((s) => !beforeKeys.has(scheduleKey(s)));
  const out: ScheduleChange[] = [];
  const pairs = Math.min(removed.length, added.length);
  for (let i = 0; i < pairs; i++) {
    out.push({
      change: "changed",
      before: scheduleSide(removed[i]!, options),
      after: scheduleSide(added[i]!, options),
    });
  }
  for (const s of removed.slice(pairs)) out.push({ change: "removed", before: scheduleSide(s, options) });
  for (const s of added.slice(pairs)) out.push({ change: "added", after: scheduleSide(s, options) });
  return out;
}

/** Every target any phase of the job selects, by name. */
function jobTargets(model: RepoModel, job: JobDef | undefined): Map<string, TargetDef> {
  const out = new Map<string, TargetDef>();
  if (!job) return out;
  for (const phase of job.phases) {
    for (const t of selectTargets(model.targets.values(), phase.targets)) out.set(t.id, t);
  }
  return out;
}

const TARGET_FIELDS = [
  "transport",
  "host",
  "port",
  "user",
  "credential",
  "hostKeys",
  "jump",
  "shell",
  "sudo",
  "labels",
  "vars",
] as const;

/** Targets with the variables the job sees (vars/*.yaml, own, job), so a change under vars/ shows per target. */
function mergedVars(model: RepoModel, targets: Map<string, TargetDef>, job?: JobDef): Map<string, TargetDef> {
  return new Map([...targets].map(([name, t]) => [name, { ...t, vars: targetVars(model, t, job).vars }]));
}

function changedTargets(before: Map<string, TargetDef>, after: Map<string, TargetDef>): TargetChange[] {
  const out: TargetChange[] = [];
  for (const [name, b] of [...after].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const a = before.get(name);
    if (!a) continue;
    const fields = TARGET_FIELDS.filter((f) => canonical(a[f]) !== canonical(b[f]));
    if (fields.length) out.push({ name, fields: [...fields] });
  }
  return out;
}

function diffInputs(
  before: Record<string, Record<string, unknown>>,
  after: Record<string, Record<string, unknown>>,
): JobDiff["inputs"] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const out: JobDiff["inputs"] = [];
  for (const name of names) {
    const b = before[name];
    const a = after[name];
    if (b === undefined) out.push({ name, change: "added", after: a });
    else if (a === undefined) out.push({ name, change: "removed", before: b });
    else if (canonical(a) !== canonical(b)) out.push({ name, change: "changed", before: b, after: a });
  }
  return out;
}

/** The parts of a step use that decide what runs; `source` (where it is written) is not one. */
function stepFields(s: StepUse): Record<string, unknown> {
  return {
    name: s.name,
    uses: s.uses,
    with: s.with,
    run: s.run,
    check: s.check,
    if: s.if,
    env: s.env,
    retry: s.retry,
    timeoutMs: s.timeoutMs,
    continueOnError: s.continueOnError,
    sudo: s.sudo,
    shell: s.shell,
  };
}

function libraryFields(s: StepDef): Record<string, unknown> {
  return {
    description: s.description,
    inputs: s.inputs,
    check: s.check,
    run: s.run,
    steps: s.steps?.map(stepFields),
    env: s.env,
    sudo: s.sudo,
    timeoutMs: s.timeoutMs,
    shell: s.shell,
  };
}

/** What a step is, for an added or removed step: its library step or its script. */
function stepSummary(s: StepUse): FieldChange[] {
  const fields = stepFields(s);
  return Object.entries(fields)
    .filter(([k, v]) => ["uses", "with", "run", "if"].includes(k) && v !== undefined && !isEmptyObject(v))
    .map(([path, value]) => ({ path, after: value }));
}

function diffSteps(before: Phase[], after: Phase[]): StepChange[] {
  const out: StepChange[] = [];
  const phaseNames = [...new Set([...before.map((p) => p.name), ...after.map((p) => p.name)])];
  for (const phase of phaseNames) {
    const b = new Map((before.find((p) => p.name === phase)?.steps ?? []).map((s) => [s.id, s]));
    const a = new Map((after.find((p) => p.name === phase)?.steps ?? []).map((s) => [s.id, s]));
    for (const [id, s] of b) {
      if (!a.has(id)) {
        out.push({
          phase,
          id,
          change: "removed",
          fields: stepSummary(s).map((f) => ({ path: f.path, before: f.after })),
        });
      }
    }
    for (const [id, s] of a) {
      const old = b.get(id);
      if (!old) out.push({ phase, id, change: "added", fields: stepSummary(s) });
      else {
        const fields = fieldChanges(stepFields(old), stepFields(s));
        if (fields.length) out.push({ phase, id, change: "changed", fields });
      }
    }
  }
  return out;
}

/** Library step ids a job uses, through composite steps too. */
function usedLibrarySteps(model: RepoModel, job: JobDef | undefined): Set<string> {
  const out = new Set<string>();
  const visit = (uses: StepUse[]): void => {
    for (const s of uses) {
      if (!s.uses || out.has(s.uses)) continue;
      out.add(s.uses);
      const lib = model.steps.get(s.uses);
      if (lib?.steps) visit(lib.steps);
    }
  };
  for (const phase of job?.phases ?? []) visit(phase.steps);
  return out;
}

function diffLibrary(base: RepoModel, head: RepoModel, before?: JobDef, after?: JobDef): LibraryStepChange[] {
  // Only steps the job uses on both sides: a newly used step shows up as a step change already.
  const used = [...usedLibrarySteps(head, after)]
    .filter((id) => usedLibrarySteps(base, before).has(id))
    .sort();
  const out: LibraryStepChange[] = [];
  for (const id of used) {
    const b = base.steps.get(id);
    const a = head.steps.get(id);
    if (!b && a) out.push({ id, change: "added", fields: [] });
    else if (b && !a) out.push({ id, change: "removed", fields: [] });
    else if (a && b) {
      const fields = fieldChanges(libraryFields(b), libraryFields(a));
      if (fields.length) out.push({ id, change: "changed", fields });
    }
  }
  return out;
}

/** Every credential reference a job can read: its secrets, webhook and notify secrets, and its targets' credentials. */
function credentialRefs(model: RepoModel, job: JobDef | undefined): string[] {
  if (!job) return [];
  const refs = new Set<string>(Object.values(job.secrets));
  if (job.on.webhook?.secret) refs.add(job.on.webhook.secret);
  for (const n of job.notify) if (n.webhook?.secret) refs.add(n.webhook.secret);
  const seen = new Set<string>();
  const addTarget = (t: TargetDef | undefined): void => {
    if (!t || seen.has(t.id)) return;
    seen.add(t.id);
    if (t.credential) refs.add(t.credential);
    if (t.sudo?.password) refs.add(t.sudo.password);
    if (t.jump) addTarget(model.targets.get(t.jump));
  };
  for (const t of jobTargets(model, job).values()) addTarget(t);
  return [...refs];
}

function diffSettings(before: JobDef, after: JobDef): FieldChange[] {
  const settings = (j: JobDef): Record<string, unknown> => ({
    description: j.description,
    concurrency: j.concurrency,
    timeoutMs: j.timeoutMs,
    env: j.env,
    secrets: j.secrets,
    notify: j.notify,
    phases: j.phases.map((p) => p.name),
    ...Object.fromEntries(
      j.phases.flatMap((p) => [
        [`phase.${p.name}.targets`, p.targets],
        [`phase.${p.name}.strategy`, p.strategy],
      ]),
    ),
  });
  return fieldChanges(settings(before), settings(after));
}

function diffCredentialFiles(base: RepoModel, head: RepoModel): CredentialFileChange[] {
  const names = [...new Set([...base.credentials.keys(), ...head.credentials.keys()])].sort();
  const out: CredentialFileChange[] = [];
  for (const name of names) {
    const b = base.credentials.get(name);
    const a = head.credentials.get(name);
    const keys = setDiff(b?.keyPaths ?? [], a?.keyPaths ?? []);
    const change: Change | null = !b
      ? "added"
      : !a
        ? "removed"
        : keys.added.length + keys.removed.length
          ? "changed"
          : null;
    if (change) out.push({ name, change, keysAdded: keys.added, keysRemoved: keys.removed });
  }
  return out;
}

/**
 * Field-by-field differences of two records, descending into plain objects
 * (so `with.packages` is reported rather than all of `with`), not into arrays.
 */
export function fieldChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  prefix = "",
): FieldChange[] {
  const out: FieldChange[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  for (const key of keys) {
    const b = before[key];
    const a = after[key];
    if (canonical(b) === canonical(a)) continue;
    const path = prefix + key;
    if (isRecord(b) && isRecord(a)) out.push(...fieldChanges(b, a, `${path}.`));
    else
      out.push({ path, ...(b !== undefined ? { before: b } : {}), ...(a !== undefined ? { after: a } : {}) });
  }
  return out;
}

function isEmptyObject(v: unknown): boolean {
  return isRecord(v) && Object.keys(v).length === 0;
}

/** JSON with sorted keys, so equal definitions compare equal however their keys are ordered. */
export function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof Set) return [...(v as Set<unknown>)].sort();
      if (isRecord(v)) {
        return Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        );
      }
      return v;
    }) ?? "undefined"
  );
}
