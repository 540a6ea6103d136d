/**
 * What the server needs from the engine: run one job end to end at one commit
 * (load, plan, decrypt, run, record, push). The real one is
 * run/execute-job.ts `executeJob`; it is injected so tests can put a
 * fault-injection fake in its place.
 */
import type { Trigger } from "../core/plan-model.js";
import type { RunEventListener } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";

export interface ExecuteJobRequest {
  /** A working clone or the server's mirror. */
  repoDir: string;
  commit: string;
  job: string;
  inputs: Record<string, unknown>;
  inputsFromText?: boolean;
  trigger: Trigger;
  push: boolean;
  signal?: AbortSignal;
  listeners?: RunEventListener[];
}

export type JobExecutor = (request: ExecuteJobRequest) => Promise<RunSummary>;
