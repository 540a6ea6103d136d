/** The text of a notification mail (pure): subject and a plain-text body. */
import { runDir } from "../records/record-paths.js";
import type { NotificationPayload } from "./notification.js";

export interface EmailMessage {
  subject: string;
  text: string;
}

export function renderEmail(p: NotificationPayload, recordsBranch?: string): EmailMessage {
  const prefix = p.repository ? `[${p.repository}] ` : "[OpsConductor] ";
  const lines = [p.text, "", `Job:      ${p.job}`, `Run:      ${p.run.id}`];
  if (p.run.result) lines.push(`Result:   ${p.run.result}`);
  lines.push(`Trigger:  ${p.run.trigger.kind} by ${p.run.trigger.actor}`);
  if (p.run.sourceCommit) lines.push(`Commit:   ${p.run.sourceCommit}${p.run.ref ? ` (${p.run.ref})` : ""}`);
  lines.push(`Started:  ${p.run.startedAt}`);
  if (p.run.finishedAt) lines.push(`Finished: ${p.run.finishedAt}`);
  if (p.run.counts) {
    const counts = Object.entries(p.run.counts)
      .filter(([, n]) => n)
      .map(([k, n]) => `${n} ${k}`);
    if (counts.length) lines.push(`Targets:  ${counts.join(", ")}`);
  }
  if (p.problems.length > 0) {
    lines.push("", "Targets that did not succeed:");
    for (const x of p.problems) {
      lines.push(
        `  ${x.target}: ${x.outcome}${x.step ? ` in step ${x.step}` : ""}${x.reason ? `: ${x.reason}` : ""}`,
      );
    }
  }
  if (p.drift) {
    lines.push(
      "",
      `Drift report: drift.md on branch ${p.drift.branch} (commit ${p.drift.commit.slice(0, 12)})`,
    );
  }
  if (p.event !== "started" && p.event !== "missed" && recordsBranch) {
    let dir: string | undefined;
    try {
      dir = runDir(p.run.id);
    } catch {
      dir = undefined;
    }
    if (dir) lines.push("", `Record: ${dir}/ on branch ${recordsBranch} (opsc runs show ${p.run.id})`);
  }
  lines.push("", "-- ", "Sent by OpsConductor because the job's notify: asks for it.");
  return { subject: `${prefix}${p.text}`, text: `${lines.join("\n")}\n` };
}
