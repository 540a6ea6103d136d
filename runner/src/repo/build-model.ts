/**
 * Raw (schema-valid) file contents to the RepoModel: defaults applied,
 * durations in milliseconds, a job's top-level `steps` as one phase "main".
 */
import type {
  JobDef,
  Phase,
  Settings,
  StepDef,
  StepUse,
  Strategy,
  SudoSettings,
  TargetDef,
  TargetSelector,
  VarsFile,
} from "../core/repo-model.js";
import { DEFAULT_LOCK_WAIT_MS } from "../core/repo-model.js";
import type { AccessPolicy, AccessRole } from "../core/access-policy.js";
import type { SourcePosition } from "../core/errors.js";
import { parseDuration } from "./duration.js";
import type {
  RawAccess,
  RawJob,
  RawSelector,
  RawSettings,
  RawStep,
  RawStepUse,
  RawStrategy,
  RawTarget,
  RawVarsFile,
  Scalar,
} from "./raw-types.js";
import type { NodePath, YamlSource } from "./yaml-source.js";

export const DEFAULT_RECORDS_BRANCH = "opsconductor/runs";
export const DEFAULT_PARALLEL = 10;
export const DEFAULT_PUSH_BRANCHES = ["main"];

export function at(source: YamlSource, path: NodePath, where: "key" | "value" = "value"): SourcePosition {
  return { file: source.file, ...source.position(path, where) };
}

export function buildSettings(raw: RawSettings | null | undefined, source: SourcePosition): Settings {
  const r = raw ?? {};
  const timeoutMs = r.defaults?.timeout ? parseDuration(r.defaults.timeout) : undefined;
  return {
    ...(r.name !== undefined ? { name: r.name } : {}),
    records: { branch: r.records?.branch ?? DEFAULT_RECORDS_BRANCH, push: r.records?.push ?? true },
    defaults: {
      shell: r.defaults?.shell ?? "sh",
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(r.defaults?.parallel !== undefined ? { parallel: r.defaults.parallel } : {}),
    },
    ...(r.notify?.smtp
      ? { notify: { smtp: { ...r.notify.smtp, secure: r.notify.smtp.secure ?? false } } }
      : {}),
    source,
  };
}

function text(v: Scalar): string {
  return typeof v === "string" ? v : String(v);
}

function texts(record: Record<string, Scalar> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record ?? {})) out[k] = text(v);
  return out;
}

function sudoOf(raw: RawTarget["sudo"]): SudoSettings | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === "boolean") return { enabled: raw };
  return {
    enabled: raw.enabled ?? true,
    ...(raw.user !== undefined ? { user: raw.user } : {}),
    ...(raw.password !== undefined ? { password: raw.password } : {}),
  };
}

/** One target with its file's defaults applied; labels and vars merge key by key. */
export function buildTarget(
  id: string,
  own: RawTarget,
  defaults: RawTarget,
  settings: Settings,
  source: SourcePosition,
): TargetDef {
  const t: RawTarget = { ...defaults, ...own };
  const hostKey = t.host_key;
  const sudo = sudoOf(t.sudo);
  return {
    id,
    transport: t.transport ?? "ssh",
    ...(t.host !== undefined ? { host: t.host } : {}),
    port: t.port ?? 22,
    ...(t.user !== undefined ? { user: t.user } : {}),
    ...(t.credential !== undefined ? { credential: t.credential } : {}),
    hostKeys: hostKey === undefined ? [] : Array.isArray(hostKey) ? [...hostKey] : [hostKey],
    ...(t.jump !== undefined ? { jump: t.jump } : {}),
    shell: t.shell ?? settings.defaults.shell,
    ...(sudo ? { sudo } : {}),
    labels: { ...texts(defaults.labels), ...texts(own.labels) },
    vars: { ...(defaults.vars ?? {}), ...(own.vars ?? {}) },
    source,
  };
}

export function buildStepUse(raw: RawStepUse, index: number, source: YamlSource, path: NodePath): StepUse {
  const timeoutMs = raw.timeout ? parseDuration(raw.timeout) : undefined;
  return {
    id: raw.id ?? defaultStepId(index),
    ...(raw.name !== undefined ? { name: raw.name } : {}),
    ...(raw.uses !== undefined ? { uses: raw.uses } : {}),
    with: { ...(raw.with ?? {}) },
    ...(raw.run !== undefined ? { run: raw.run } : {}),
    ...(raw.check !== undefined ? { check: raw.check } : {}),
    ...(raw.if !== undefined ? { if: String(raw.if) } : {}),
    env: texts(raw.env),
    ...(raw.retry
      ? {
          retry: {
            attempts: raw.retry.attempts,
            delayMs: raw.retry.delay ? (parseDuration(raw.retry.delay) ?? 0) : 0,
          },
        }
      : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    continueOnError: raw.continue_on_error ?? false,
    ...(raw.sudo !== undefined ? { sudo: raw.sudo } : {}),
    ...(raw.shell !== undefined ? { shell: raw.shell } : {}),
    ...(raw.copy
      ? {
          copy: {
            src: raw.copy.src,
            dest: raw.copy.dest,
            ...(raw.copy.mode !== undefined ? { mode: raw.copy.mode } : {}),
            ...(raw.copy.owner !== undefined ? { owner: raw.copy.owner } : {}),
            ...(raw.copy.group !== undefined ? { group: raw.copy.group } : {}),
            template: raw.copy.template ?? false,
            secret: raw.copy.secret ?? false,
          },
        }
      : {}),
    tags: [...(raw.tags ?? [])],
    notify: [...(raw.notify ?? [])],
    secrets: [...(raw.secrets ?? [])],
    source: at(source, path),
  };
}

export function defaultStepId(index: number): string {
  return `step-${index + 1}`;
}

export function buildStep(id: string, raw: RawStep, source: YamlSource): StepDef {
  const timeoutMs = raw.timeout ? parseDuration(raw.timeout) : undefined;
  return {
    id,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    inputs: { ...(raw.inputs ?? {}) },
    ...(raw.check !== undefined ? { check: raw.check } : {}),
    ...(raw.run !== undefined ? { run: raw.run } : {}),
    ...(raw.steps ? { steps: raw.steps.map((s, i) => buildStepUse(s, i, source, ["steps", i])) } : {}),
    env: texts(raw.env),
    ...(raw.sudo !== undefined ? { sudo: raw.sudo } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(raw.shell !== undefined ? { shell: raw.shell } : {}),
    source: { file: source.file, line: 1, col: 1 },
  };
}

export function buildVarsFile(raw: RawVarsFile, source: YamlSource): VarsFile {
  const positions: Record<string, SourcePosition> = {};
  for (const name of Object.keys(raw.vars)) positions[name] = at(source, ["vars", name], "key");
  const match = raw.match ? selectorOf({ match: raw.match }).match : undefined;
  return {
    file: source.file,
    ...(match ? { match } : {}),
    vars: { ...raw.vars },
    positions,
    source: { file: source.file, line: 1, col: 1 },
  };
}

function selectorOf(raw: RawSelector | undefined): TargetSelector {
  if (!raw) return {};
  const match: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw.match ?? {})) match[k] = Array.isArray(v) ? v.map(text) : text(v);
  return {
    ...(raw.match ? { match } : {}),
    ...(raw.names ? { names: [...raw.names] } : {}),
    ...(raw.exclude ? { exclude: [...raw.exclude] } : {}),
  };
}

function strategyOf(
  job: RawStrategy | undefined,
  phase: RawStrategy | undefined,
  settings: Settings,
): Strategy {
  const s = { ...(job ?? {}), ...(phase ?? {}) };
  return {
    parallel: s.parallel ?? settings.defaults.parallel ?? DEFAULT_PARALLEL,
    ...(s.batch !== undefined ? { batch: s.batch } : {}),
    maxFailures: s.max_failures ?? 0,
  };
}

export function buildJob(id: string, raw: RawJob, source: YamlSource, settings: Settings): JobDef {
  const on = raw.on ?? {};
  const phases: Phase[] = raw.phases
    ? raw.phases.map((p, pi) => ({
        name: p.name,
        targets: selectorOf(p.targets ?? raw.targets),
        strategy: strategyOf(raw.strategy, p.strategy, settings),
        steps: p.steps.map((s, i) => buildStepUse(s, i, source, ["phases", pi, "steps", i])),
        source: at(source, ["phases", pi]),
      }))
    : [
        {
          name: "main",
          targets: selectorOf(raw.targets),
          strategy: strategyOf(raw.strategy, undefined, settings),
          steps: (raw.steps ?? []).map((s, i) => buildStepUse(s, i, source, ["steps", i])),
          source: at(source, ["steps"]),
        },
      ];
  const push = on.push === true ? {} : on.push === false ? undefined : on.push;
  const webhook = on.webhook === true ? {} : on.webhook === false ? undefined : on.webhook;
  const timeoutMs = raw.timeout ? parseDuration(raw.timeout) : settings.defaults.timeoutMs;
  return {
    id,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    on: {
      ...(push
        ? { push: { branches: push.branches ?? [...DEFAULT_PUSH_BRANCHES], paths: push.paths ?? [] } }
        : {}),
      schedule: (on.schedule ?? []).map((s) => ({
        cron: s.cron,
        timezone: s.timezone ?? "UTC",
        catchUp: s.catch_up ?? "none",
      })),
      ...(webhook
        ? { webhook: { ...(webhook.secret ? { secret: webhook.secret } : {}), types: webhook.types ?? [id] } }
        : {}),
      manual: on.manual ?? true,
    },
    inputs: { ...(raw.inputs ?? {}) },
    phases,
    ...(raw.concurrency
      ? { concurrency: { group: raw.concurrency.group, policy: raw.concurrency.policy ?? "queue" } }
      : {}),
    locks:
      raw.locks === "skip"
        ? { policy: "skip" }
        : { policy: "wait", waitMs: parseDuration(raw.locks?.wait ?? "") ?? DEFAULT_LOCK_WAIT_MS },
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    env: texts(raw.env),
    secrets: { ...(raw.secrets ?? {}) },
    notify: (raw.notify ?? []).map((n) => ({
      on: [...n.on],
      ...(n.webhook
        ? { webhook: { url: n.webhook.url, ...(n.webhook.secret ? { secret: n.webhook.secret } : {}) } }
        : {}),
      ...(n.email ? { email: { to: [...n.email.to] } } : {}),
      ...(n.github_status !== undefined ? { githubStatus: n.github_status } : {}),
    })),
    vars: { ...(raw.vars ?? {}) },
    facts: raw.facts ?? false,
    ...(raw.approval ? { approval: { required: raw.approval.required, signers: raw.approval.signers } } : {}),
    handlers: (raw.handlers ?? []).map((s, i) => buildStepUse(s, i, source, ["handlers", i])),
    ...(raw.drift?.schedule
      ? {
          drift: {
            schedule: { cron: raw.drift.schedule, timezone: raw.drift.timezone ?? "UTC", catchUp: "none" },
          },
        }
      : {}),
    source: { file: source.file, line: 1, col: 1 },
  };
}

export function buildAccess(raw: RawAccess, source: YamlSource): AccessPolicy {
  const roles = new Map<string, AccessRole>();
  for (const [name, r] of Object.entries(raw.roles)) {
    roles.set(name, {
      name,
      view: [...(r?.view ?? [])],
      run: [...(r?.run ?? [])],
      admin: r?.admin ?? false,
      source: at(source, ["roles", name], "key"),
    });
  }
  return {
    roles,
    members: raw.members.map((m, i) => ({
      ...(m.user !== undefined ? { user: m.user } : {}),
      ...(m.group !== undefined ? { group: m.group } : {}),
      roles: [...m.roles],
      source: at(source, ["members", i]),
    })),
  };
}
