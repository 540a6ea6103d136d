/**
 * One accepted unit of work: a job at a commit with inputs and a trigger. It is
 * journaled before the HTTP answer goes out, so a restart loses nothing.
 */
import type { Trigger } from "../core/plan-model.js";
import type { RunResult } from "../core/run-events.js";

/** The claim between replicas an item was accepted under (see git/claims.ts). */
export interface WorkClaim {
  kind: string;
  id: string;
}

export type WorkStatus = "queued" | "running" | "finished" | "skipped" | "cancelled" | "failed";

export interface WorkItem {
  /** Unique per accepted item: `<source>-<job>-<random>`. */
  id: string;
  job: string;
  commit: string;
  ref?: string;
  inputs: Record<string, unknown>;
  trigger: Trigger;
  concurrency?: { group: string; policy: "queue" | "skip" | "cancel-previous" };
  /**
   * Accepted under this claim: a restart claims it again before running it,
   * since another replica may have taken the work over meanwhile.
   */
  claim?: WorkClaim;
  acceptedAt: string;
  status: WorkStatus;
  startedAt?: string;
  finishedAt?: string;
  /** The run id once the engine has reported it. */
  runId?: string;
  result?: RunResult;
  /** Why it was skipped, cancelled or failed before running. */
  reason?: string;
}
