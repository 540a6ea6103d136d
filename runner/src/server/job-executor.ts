/**
 * What the server needs from the engine: run one job end to end at one commit
 * (load, plan, decrypt, run, record, push). The real one is
 * app/execute-job.ts `executeJob`; it is injected so tests can put a
 * fault-injection fake in its place.
 */
import type { RunSummary } from "../core/run-summary.js";
import type { ExecuteJobRequest } from "../app/execute-job.js";

export type { ExecuteJobRequest };

export type JobExecutor = (request: ExecuteJobRequest) => Promise<{ summary: RunSummary }>;
