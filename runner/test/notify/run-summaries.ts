/** Run summaries for notification tests, shaped as the run recorder writes them. */
import type { RunResult } from "../../src/core/run-events.js";
import type { RunSummary } from "../../src/core/run-summary.js";
import { CANARY } from "../helpers/canary.js";

export function summary(result: RunResult, overrides: Partial<RunSummary> = {}): RunSummary {
  const failed = result === "failure";
  return {
    id: "20261122T031500Z-patch-web-7f3a",
    job: "patch-web",
    result,
    startedAt: "2026-11-22T03:15:00.000Z",
    finishedAt: "2026-11-22T03:16:10.000Z",
    trigger: { kind: "schedule", actor: "schedule" },
    actor: "schedule",
    sourceCommit: "0123456789abcdef0123456789abcdef01234567",
    ref: "refs/heads/main",
    inputs: {},
    checkMode: false,
    targets: [
      {
        name: "web-1",
        phase: "main",
        outcome: "changed",
        ms: 900,
        steps: [{ id: "install", outcome: "changed", ms: 800, attempts: 1 }],
      },
      {
        name: "web-2",
        phase: "main",
        outcome: failed ? "failed" : "ok",
        ms: 700,
        steps: [
          failed
            ? // A script that echoed a secret into its failure reason: it must be masked on the way out.
              {
                id: "install",
                outcome: "failed",
                ms: 600,
                attempts: 1,
                exitCode: 1,
                reason: `exit 1: token ${CANARY} rejected`,
              }
            : { id: "install", outcome: "ok", ms: 600, attempts: 1 },
        ],
      },
    ],
    counts: {
      ok: failed ? 0 : 1,
      changed: 1,
      failed: failed ? 1 : 0,
      skipped: 0,
      unreachable: 0,
      timed_out: 0,
      cancelled: 0,
    },
    ...overrides,
  };
}
