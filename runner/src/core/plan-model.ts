/**
 * The exact work a job will do: what `opsc plan` prints and what the engine runs.
 * Built by plan/ from a RepoModel with no I/O; holds no secret values, only references.
 */
import type { ActorVia } from "./access-policy.js";
import type {
  ApprovalRule,
  CopySpec,
  LockPolicy,
  RetrySpec,
  Shell,
  SudoSettings,
  TransportKind,
} from "./repo-model.js";

export type TriggerKind = "manual" | "push" | "schedule" | "webhook" | "api";

export interface Trigger {
  kind: TriggerKind;
  /** Who or what: a user name, `github:<login>`, `schedule`, `webhook:<delivery>`. */
  actor: string;
  /** Extra facts: delivery id, cron expression and tick time, ref. */
  detail?: Record<string, string>;
  /** Who, as proven: absent in records written before identities were recorded. */
  by?: Actor;
}

/** The authenticated actor of a run and how it was proven. */
export interface Actor {
  /** The user (OIDC email, token user), forge login, or `schedule`. */
  name: string;
  via: ActorVia;
  /** The personal token's name, when `via` is `token`. */
  token?: string;
}

/** A working tree that is not a commit: what it sits on, and which of its files differ. */
export interface DirtyTree {
  /** HEAD's commit; absent in a repository with no commit yet. */
  base?: string;
  /** Repository-relative paths changed, added or deleted since `base`, sorted. */
  paths: string[];
}

export interface PlannedTarget {
  name: string;
  transport: TransportKind;
  host?: string;
  port: number;
  user?: string;
  credential?: string;
  hostKeys: string[];
  /** The jump chain, nearest hop last, already resolved. */
  jump?: PlannedTarget;
  shell: Shell;
  sudo?: SudoSettings;
  labels: Record<string, string>;
  /** Merged: vars/*.yaml, the target's own, the job's (see plan/target-vars.ts). */
  vars: Record<string, unknown>;
  /** Variable name -> where its value came from (`vars/web.yaml:3:3`). */
  varsFrom?: Record<string, string>;
}

/** A `copy` step's files: repository paths and where each goes below `dest`. */
export interface PlannedCopy extends CopySpec {
  /** `rel` is "" when `src` is a single file (it goes to `dest` itself). */
  files: Array<{ src: string; rel: string }>;
}

/**
 * A library-step input whose value reads run-time contexts: the engine renders
 * it per target before the step starts, checks it against `schema` (a failing
 * check fails the step on that target) and exports its text as `env`.
 */
export interface RuntimeInput {
  /** The input's name in the library step, for messages. */
  input: string;
  /** `INPUT_<NAME>`. */
  env: string;
  schema: Record<string, unknown>;
  /** JSON-like; every string in it is a template. */
  value: unknown;
}

/**
 * One step after library resolution. Composite library steps are flattened
 * into their children with ids `<parent>/<child>`. Expressions that read only
 * plan-time contexts are already evaluated; what is left reads `target`,
 * `steps`, `env` or `run`, and the engine renders it once per target.
 */
export interface PlannedStep {
  id: string;
  name: string;
  uses?: string;
  run?: string;
  check?: string;
  if?: string;
  /**
   * Env for the script, as templates the engine renders once: plan-time results
   * are quoted (`${{ '...' }}` when they contain `${{`) so they stay data.
   * Includes INPUT_<NAME> from `with:` when its value is known at plan time.
   */
  env: Record<string, string>;
  /** Inputs known only per target (see RuntimeInput), in the order they apply. */
  runtimeInputs?: RuntimeInput[];
  sudo: boolean;
  shell?: Shell;
  timeoutMs?: number;
  retry?: RetrySpec;
  continueOnError: boolean;
  copy?: PlannedCopy;
  /** Job secret names a `copy` template may read. */
  secretNames?: string[];
  tags?: string[];
  /** Handler ids this step notifies when it is `changed`. */
  notify?: string[];
  /** For handlers: the handler id this step belongs to (a composite handler has several steps). */
  handler?: string;
  /** Set when the run selects steps (`--tags`, `--skip-tags`, `--start-at`): whether this one runs, and why. */
  selection?: { selected: boolean; reason: string };
}

export interface PlannedPhase {
  name: string;
  /** Target names in order; `batches` partitions them. */
  targets: string[];
  batches: string[][];
  parallel: number;
  maxFailures: number;
  steps: PlannedStep[];
  /** The job's handlers, run at the end of the phase on a target when notified. */
  handlers?: PlannedStep[];
}

export interface StepSelection {
  tags: string[];
  skipTags: string[];
  startAt?: string;
}

export interface Plan {
  job: string;
  description?: string;
  /** Source commit the job definitions were read at (absent when read from a dirty working tree). */
  commit?: string;
  /** Read from a working tree that differs from its HEAD (a run from it needs `--allow-dirty`). */
  dirtyTree?: DirtyTree;
  ref?: string;
  trigger: Trigger;
  /** Validated inputs with defaults applied. */
  inputs: Record<string, unknown>;
  /** Every target the plan touches, by name. */
  targets: Record<string, PlannedTarget>;
  phases: PlannedPhase[];
  /** Job-level env, as templates the engine renders once (see PlannedStep.env). */
  env: Record<string, string>;
  /** Env var name -> credential reference. Values are resolved only at run time. */
  secrets: Record<string, string>;
  timeoutMs?: number;
  concurrency?: { group: string; policy: "queue" | "skip" | "cancel-previous" };
  /** What the run does when another run holds one of its targets (job `locks:`). */
  locks?: LockPolicy;
  /** `--check`: run only `check` scripts, change nothing. */
  checkMode: boolean;
  /** Gather facts on each target after connecting (job `facts: true`). */
  facts?: boolean;
  /** The step selection asked for, when any. */
  selection?: StepSelection;
  /**
   * `K/N` when this is one shard of a sharded run. `group` names the sharded
   * run all shards belong to (in GitHub Actions: the workflow run id and attempt),
   * so `opsc runs show` can merge their records.
   */
  shard?: { index: number; count: number; group?: string };
  /** The job's `approval:`: how many signers of which allowed_signers file must sign `planHash`. */
  approval?: ApprovalRule;
  /** SHA-256 (hex) of the work this plan does (core/plan-hash.ts): what approvers sign. */
  planHash?: string;
}
