/**
 * What a notification says, decided and built without any I/O: which events a
 * finished run raises, and the one payload every channel renders (webhook JSON,
 * email text, commit status). Senders only deliver it.
 */
import type { Trigger } from "../core/plan-model.js";
import type { NotifySpec } from "../core/repo-model.js";
import type { RunResult, TargetOutcome } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";

export type NotifyEvent = NotifySpec["on"][number];

/** Version of the webhook payload; bumped only when a field changes meaning or goes away. */
export const PAYLOAD_VERSION = 1;

export interface RunFacts {
  id: string;
  job: string;
  startedAt: string;
  finishedAt?: string;
  result?: RunResult;
  trigger: Trigger;
  sourceCommit?: string;
  ref?: string;
  checkMode: boolean;
  targetCount: number;
  counts?: Partial<Record<TargetOutcome, number>>;
  /** Targets that did not succeed, with the step and reason when known. */
  problems: Array<{ target: string; outcome: TargetOutcome; step?: string; reason?: string }>;
  /** For `missed`: the schedule tick that did not run. */
  missedTick?: string;
  /** For `drift` and `drift-resolved`: where the report is and which targets drift (none once resolved). */
  drift?: DriftFacts;
}

/** What a drift notification says besides the check run: the report's branch and commit, the drifted targets. */
export interface DriftFacts {
  branch: string;
  commit: string;
  targets: string[];
}

export interface NotificationPayload {
  version: number;
  event: NotifyEvent;
  /** One line for people: what happened. Also the email subject and the status description. */
  text: string;
  /** The automation repository's display name (opsconductor.yaml `name`). */
  repository?: string;
  job: string;
  run: {
    id: string;
    result?: RunResult;
    startedAt: string;
    finishedAt?: string;
    trigger: { kind: string; actor: string };
    sourceCommit?: string;
    ref?: string;
    checkMode: boolean;
    targets: number;
    counts?: Partial<Record<TargetOutcome, number>>;
  };
  problems: RunFacts["problems"];
  missedTick?: string;
  drift?: DriftFacts;
}

const FAILED: ReadonlySet<RunResult> = new Set(["failure", "interrupted"]);

/**
 * The events a finished run raises. `recovered` is a success right after a
 * failed (or interrupted) run of the same job; `missed` is the record of a
 * schedule tick that did not fire (records/missed-tick.ts). A cancelled run
 * raises nothing: someone chose to stop it.
 */
export function eventsFor(
  summary: Pick<RunSummary, "result" | "trigger">,
  previousResult?: RunResult,
): NotifyEvent[] {
  if (summary.trigger.detail?.missed === "true") return ["missed"];
  if (summary.result === "success")
    return previousResult && FAILED.has(previousResult) ? ["success", "recovered"] : ["success"];
  if (FAILED.has(summary.result)) return ["failure"];
  return [];
}

/**
 * The one event a spec is notified of, among those raised: `recovered` is
 * more specific than `success`, so a spec listening to both hears it once.
 */
export function eventForSpec(spec: Pick<NotifySpec, "on">, raised: NotifyEvent[]): NotifyEvent | undefined {
  const wanted = raised.filter((e) => spec.on.includes(e));
  return wanted.includes("recovered") ? "recovered" : wanted[0];
}

export function factsFromSummary(summary: RunSummary): RunFacts {
  const problems: RunFacts["problems"] = [];
  for (const t of summary.targets) {
    if (t.outcome === "ok" || t.outcome === "changed" || t.outcome === "skipped") continue;
    const step = t.steps.find((s) => s.outcome === "failed" || s.outcome === "timed_out");
    problems.push({
      target: t.name,
      outcome: t.outcome,
      ...(step ? { step: step.id } : {}),
      ...((step?.reason ?? t.reason) ? { reason: step?.reason ?? t.reason } : {}),
    });
  }
  return {
    id: summary.id,
    job: summary.job,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    result: summary.result,
    trigger: summary.trigger,
    ...(summary.sourceCommit ? { sourceCommit: summary.sourceCommit } : {}),
    ...(summary.ref ? { ref: summary.ref } : {}),
    checkMode: summary.checkMode,
    targetCount: summary.targets.length,
    counts: summary.counts,
    problems,
    ...(summary.trigger.detail?.tick ? { missedTick: summary.trigger.detail.tick } : {}),
  };
}

export function buildPayload(event: NotifyEvent, facts: RunFacts, repository?: string): NotificationPayload {
  return {
    version: PAYLOAD_VERSION,
    event,
    text: describe(event, facts),
    ...(repository ? { repository } : {}),
    job: facts.job,
    run: {
      id: facts.id,
      ...(facts.result ? { result: facts.result } : {}),
      startedAt: facts.startedAt,
      ...(facts.finishedAt ? { finishedAt: facts.finishedAt } : {}),
      trigger: { kind: facts.trigger.kind, actor: facts.trigger.actor },
      ...(facts.sourceCommit ? { sourceCommit: facts.sourceCommit } : {}),
      ...(facts.ref ? { ref: facts.ref } : {}),
      checkMode: facts.checkMode,
      targets: facts.targetCount,
      ...(facts.counts ? { counts: facts.counts } : {}),
    },
    problems: facts.problems,
    ...(facts.missedTick ? { missedTick: facts.missedTick } : {}),
    ...(facts.drift ? { drift: facts.drift } : {}),
  };
}

const MAX_NAMED = 3;

function describe(event: NotifyEvent, f: RunFacts): string {
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
  const mode = f.checkMode ? " (check mode)" : "";
  switch (event) {
    case "started":
      return `${f.job} started on ${n(f.targetCount, "target")}${mode}`;
    case "missed":
      return `${f.job} missed its scheduled run${f.missedTick ? ` at ${f.missedTick}` : ""}`;
    case "failure": {
      if (f.result === "interrupted") return `${f.job} was interrupted${mode}`;
      const named = f.problems
        .slice(0, MAX_NAMED)
        .map((p) => `${p.target}: ${p.step ? `${p.step} ` : ""}${p.outcome}`);
      const more = f.problems.length > MAX_NAMED ? `, +${f.problems.length - MAX_NAMED} more` : "";
      return `${f.job} failed on ${f.problems.length} of ${n(f.targetCount, "target")}${mode}${named.length ? ` (${named.join(", ")}${more})` : ""}`;
    }
    case "drift": {
      const t = f.drift?.targets ?? [];
      const named =
        t.slice(0, MAX_NAMED).join(", ") + (t.length > MAX_NAMED ? `, +${t.length - MAX_NAMED} more` : "");
      return `${f.job} drifted on ${t.length} of ${n(f.targetCount, "target")}${named ? ` (${named})` : ""}`;
    }
    case "drift-resolved":
      return `${f.job} no longer drifts: all ${n(f.targetCount, "target")} match the repository again`;
    case "recovered":
      return `${f.job} recovered: succeeded on ${n(f.targetCount, "target")} after a failed run${mode}`;
    case "success": {
      const changed = f.counts?.changed ?? 0;
      return `${f.job} succeeded on ${n(f.targetCount, "target")}${changed ? `, ${changed} changed` : ""}${mode}`;
    }
  }
}
