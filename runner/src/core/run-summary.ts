/**
 * What a finished run was: the content of run.json (schema/run.schema.json),
 * built from the event stream. Secrets never appear here; inputs are as given.
 */
import type { ApprovalSignature } from "./count-approvals.js";
import type { DirtyTree, Trigger } from "./plan-model.js";
import type { RunResult, StepOutcome, TargetOutcome } from "./run-events.js";

export interface StepSummary {
  id: string;
  outcome: StepOutcome;
  ms: number;
  attempts: number;
  exitCode?: number;
  reason?: string;
}

export interface TargetSummary {
  name: string;
  phase: string;
  outcome: TargetOutcome;
  ms: number;
  reason?: string;
  /** Facts gathered on the target (job `facts: true`). */
  facts?: Record<string, unknown>;
  /** The target's lock: how long this run waited for it, and for which run. */
  lock?: TargetLockSummary;
  steps: StepSummary[];
}

/** A run's lease on `refs/opsconductor/locks/<target>` (see docs/locks.md). */
export interface TargetLockSummary {
  /** acquired; skipped (held, `locks: skip`); timed_out (still held after `locks.wait`). */
  result: "acquired" | "skipped" | "timed_out";
  /** How long the run waited for the lock. */
  waitedMs: number;
  /** The run that held the lock while this one waited (or when it skipped or gave up). */
  heldBy?: { run: string; replica: string };
  /** The holder whose expired lease this run took over (it crashed or stalled). */
  takenOverFrom?: { run: string; replica: string };
  /** The lease was taken by another run during this run (this one stalled past its expiry). */
  lost?: boolean;
}

export interface RunSummary {
  /** `20261122T031500Z-patch-web-7f3a`: sortable, unique, readable. */
  id: string;
  job: string;
  result: RunResult;
  startedAt: string;
  finishedAt: string;
  trigger: Trigger;
  /** Same as trigger.actor; kept top-level for audit queries. */
  actor: string;
  sourceCommit?: string;
  /** Ran from a working tree that differed from its HEAD (`opsc run --allow-dirty`). */
  dirtyTree?: DirtyTree;
  ref?: string;
  inputs: Record<string, unknown>;
  checkMode: boolean;
  /** One shard of a sharded run; `group` is shared by all its shards (see Plan.shard). */
  shard?: { index: number; count: number; group?: string };
  targets: TargetSummary[];
  counts: Record<TargetOutcome, number>;
  /** For `interrupted`: the last step known to have finished. */
  lastFinishedStep?: { target: string; step: string };
  /** What the job's `notify:` sent, and what failed to send (a failed notification never fails the run). */
  notifications?: NotificationOutcome[];
  /** SHA-256 of the work the run did (core/plan-hash.ts); what approvers sign. */
  planHash?: string;
  /** For a job with `approval:`: the signatures the run started with. */
  approval?: { required: number; signers: string; signatures: ApprovalSignature[] };
}

/** One notification delivery: masked, with the URL reduced to its origin (a webhook URL may hold a token). */
export interface NotificationOutcome {
  event: "started" | "success" | "failure" | "recovered" | "missed" | "drift" | "drift-resolved";
  channel: "webhook" | "email" | "github-status";
  /** Where to: a URL's origin, the recipients, or `owner/repo@sha`. */
  to: string;
  ok: boolean;
  attempts: number;
  /** Why it was not sent (ok false), or why it was skipped (ok true, attempts 0). */
  error?: string;
  skipped?: string;
  ms: number;
}
