/**
 * The automation repository after loading and validation: what the planner reads.
 * Every definition keeps where it came from, so later errors can point at it.
 * Field meanings are documented once, in the JSON Schemas under schema/.
 */
import type { AccessPolicy } from "./access-policy.js";
import type { SourcePosition } from "./errors.js";

export type Shell = "sh" | "bash" | "powershell";
export type TransportKind = "ssh" | "local";

export interface Settings {
  /** Display name of the automation repository. */
  name?: string;
  records: { branch: string; push: boolean };
  defaults: { shell: Shell; timeoutMs?: number; parallel?: number };
  /** How notifications are delivered (docs/notifications.md). */
  notify?: { smtp?: SmtpSettings };
  source: SourcePosition;
}

export interface SmtpSettings {
  host: string;
  /** Absent: 465 when secure, else 587. */
  port?: number;
  /** TLS from the first byte; false: STARTTLS when offered. */
  secure: boolean;
  from: string;
  username?: string;
  /** Credential reference of the password. */
  password?: string;
}

export interface SudoSettings {
  enabled: boolean;
  /** Run as this user (sudo -u). Default root. */
  user?: string;
  /** Credential reference for the sudo password (`prod/sudo.password`); fed on stdin, never argv. */
  password?: string;
}

export interface TargetDef {
  id: string;
  transport: TransportKind;
  host?: string;
  port: number;
  user?: string;
  /** Credential reference: `file/path` (a mapping with private_key, passphrase, password) or `file/path.key`. */
  credential?: string;
  /** Pinned host keys in OpenSSH public-key form (`ssh-ed25519 AAAA...`). Empty: the target is refused over SSH. */
  hostKeys: string[];
  /** Another target's id used as ProxyJump. */
  jump?: string;
  shell: Shell;
  sudo?: SudoSettings;
  labels: Record<string, string>;
  vars: Record<string, unknown>;
  source: SourcePosition;
}

export interface RetrySpec {
  attempts: number;
  delayMs: number;
}

/** A step as written in a job (or inside a composite library step). */
export interface StepUse {
  id: string;
  /** Optional display name. */
  name?: string;
  /** Library step id, when the step uses one. */
  uses?: string;
  /** Values for the library step's inputs; strings may hold `${{ }}`. */
  with: Record<string, unknown>;
  run?: string;
  check?: string;
  if?: string;
  env: Record<string, string>;
  retry?: RetrySpec;
  timeoutMs?: number;
  continueOnError: boolean;
  sudo?: boolean;
  shell?: Shell;
  /** Put a repository file or folder on the target (docs/files-and-templates.md). */
  copy?: CopySpec;
  /** For partial runs (`--tags`, `--skip-tags`). */
  tags?: string[];
  /** Handler ids to run at the end of the phase when this step was `changed`. */
  notify?: string[];
  /** Job secret names a `copy` template may read as `secrets.NAME`. */
  secrets?: string[];
  source: SourcePosition;
}

export interface CopySpec {
  /** Repository path under files/: a file or a folder. */
  src: string;
  /** Absolute path on the target; may hold `${{ }}`. */
  dest: string;
  /** Octal text (`0644`). */
  mode?: string;
  owner?: string;
  group?: string;
  template: boolean;
  secret: boolean;
}

/** One vars/*.yaml file: variables for the targets its `match` selects (all when absent). */
export interface VarsFile {
  /** Repository path (`vars/10-web.yaml`). */
  file: string;
  match?: Record<string, string | string[]>;
  vars: Record<string, unknown>;
  /** Position of each variable's key, for provenance (`vars/web.yaml:4:3`). */
  positions: Record<string, SourcePosition>;
  source: SourcePosition;
}

/**
 * How deeply composite steps may nest (a job's step is depth 0). Validation and
 * planning share it, so a repository that validates also plans.
 */
export const MAX_STEP_DEPTH = 16;

export interface StepDef {
  id: string;
  description?: string;
  /** JSON Schema per input name. */
  inputs: Record<string, Record<string, unknown>>;
  check?: string;
  run?: string;
  /** Composite: a list of steps, run in order. */
  steps?: StepUse[];
  env: Record<string, string>;
  sudo?: boolean;
  timeoutMs?: number;
  shell?: Shell;
  source: SourcePosition;
}

export interface TargetSelector {
  /** All labels must match (`env: prod`). Values may be lists (any of). */
  match?: Record<string, string | string[]>;
  /** Explicit target ids (or globs). */
  names?: string[];
  exclude?: string[];
}

export interface Strategy {
  parallel: number;
  /** A number of targets or a percentage string ("50%") per rolling batch; undefined: all at once. */
  batch?: number | string;
  /** Failed targets tolerated before remaining batches are cancelled. */
  maxFailures: number;
}

export interface Phase {
  name: string;
  targets: TargetSelector;
  strategy: Strategy;
  steps: StepUse[];
  source: SourcePosition;
}

export interface PushTrigger {
  branches: string[];
  paths: string[];
}

export interface ScheduleTrigger {
  cron: string;
  timezone: string;
  /** What to do with ticks missed while the runner was down. */
  catchUp: "none" | "latest" | "all";
}

export interface WebhookTrigger {
  /** Credential reference holding the HMAC secret. */
  secret?: string;
  /** repository_dispatch event types accepted. */
  types: string[];
}

export interface NotifySpec {
  on: Array<"started" | "success" | "failure" | "recovered" | "missed" | "drift" | "drift-resolved">;
  webhook?: { url: string; secret?: string };
  email?: { to: string[] };
  githubStatus?: boolean;
}

/** A job's `approval:` (docs/approvals.md). */
export interface ApprovalRule {
  /** Distinct signers needed. */
  required: number;
  /** Repository path of the OpenSSH allowed_signers file naming who may sign. */
  signers: string;
}

/** `wait`: wait for a held target at most `waitMs`, then fail it; `skip`: skip a held target. */
export type LockPolicy = { policy: "wait"; waitMs: number } | { policy: "skip" };

/** A job without `locks:` waits this long for a held target. */
export const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;

export interface JobDef {
  id: string;
  description?: string;
  on: {
    push?: PushTrigger;
    schedule: ScheduleTrigger[];
    webhook?: WebhookTrigger;
    manual: boolean;
  };
  /** JSON Schema per input name. */
  inputs: Record<string, Record<string, unknown>>;
  /** A single-phase job is normalised into one phase named "main". */
  phases: Phase[];
  concurrency?: { group: string; policy: "queue" | "skip" | "cancel-previous" };
  /** What a run does when another run holds one of its targets. */
  locks?: LockPolicy;
  timeoutMs?: number;
  env: Record<string, string>;
  /** Env var name -> credential reference. */
  secrets: Record<string, string>;
  notify: NotifySpec[];
  /** Variables for every target of the job, merged last. */
  vars?: Record<string, unknown>;
  /** Gather facts on each target after connecting. */
  facts?: boolean;
  /** Steps run at the end of a phase when notified by a changed step. */
  handlers?: StepUse[];
  /** `drift.schedule`: when `opsc serve` checks the job for drift (catch-up is always none). */
  drift?: { schedule?: ScheduleTrigger };
  /** Runs only with this many approvals of its plan hash (docs/approvals.md). */
  approval?: ApprovalRule;
  source: SourcePosition;
}

export interface CredentialFile {
  /** Reference name: `prod` for credentials/prod.sops.yaml. */
  name: string;
  /** Repository-relative path. */
  file: string;
  format: "yaml" | "json";
  /** Every key path in clear, dotted (`ssh.private_key`), leaves and mappings alike. */
  keyPaths: Set<string>;
}

export interface RepoModel {
  settings: Settings;
  targets: Map<string, TargetDef>;
  steps: Map<string, StepDef>;
  jobs: Map<string, JobDef>;
  credentials: Map<string, CredentialFile>;
  /** `access.yaml`, when the repository has one and it is valid. */
  access?: AccessPolicy;
  /** vars/*.yaml in name order: the merge order. */
  vars?: VarsFile[];
  /** Paths under files/ (their content stays in RepoFiles; plans only name them). */
  files?: Set<string>;
  /** Step libraries loaded from other repositories at their locked commits (docs/libraries.md). */
  libraries?: Map<string, LibraryRef>;
}

/** A library whose steps are in `steps` as `NAME/...`, at the commit opsconductor.lock pins. */
export interface LibraryRef {
  name: string;
  url: string;
  ref: string;
  commit: string;
  /** Folder holding `steps/` in the library's repository ("" for its root). */
  path: string;
}
