/**
 * Which parts of a run's events and record are output text, and so masked:
 * step output lines, reasons (error messages), input values and notification
 * errors. Everything else (run id, timestamps, names, outcomes, numbers, keys)
 * is structure: masking it would break the record, and it never holds a secret
 * the run did not put in a text field first.
 */
import type { RunEvent } from "../core/run-events.js";
import type { RunSummary } from "../core/run-summary.js";
import type { Redactor } from "./redactor.js";

export function maskEventText(event: RunEvent, redactor: Redactor): RunEvent {
  switch (event.type) {
    case "step.output":
      return { ...event, line: redactor.redact(event.line) };
    case "step.finished":
    case "target.finished":
      return event.reason === undefined ? event : { ...event, reason: redactor.redact(event.reason) };
    default:
      return event;
  }
}

export function maskSummaryText(summary: RunSummary, redactor: Redactor): RunSummary {
  const reason = <T extends { reason?: string }>(o: T): T =>
    o.reason === undefined ? o : { ...o, reason: redactor.redact(o.reason) };
  return {
    ...summary,
    inputs: redactor.redactDeep(summary.inputs),
    targets: summary.targets.map((t) => reason({ ...t, steps: t.steps.map(reason) })),
    ...(summary.notifications
      ? {
          notifications: summary.notifications.map((n) => ({
            ...n,
            to: redactor.redact(n.to),
            ...(n.error !== undefined ? { error: redactor.redact(n.error) } : {}),
            ...(n.skipped !== undefined ? { skipped: redactor.redact(n.skipped) } : {}),
          })),
        }
      : {}),
  };
}
