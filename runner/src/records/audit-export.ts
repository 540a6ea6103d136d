/**
 * The compliance export: audit lines as JSON Lines (byte for byte what is
 * committed, so hashes still verify) or CSV for a spreadsheet. Pure.
 */
import { TARGET_OUTCOMES } from "../core/run-events.js";
import { hashLine, splitLines, type AuditEntry, type AuditFileText } from "./audit-chain.js";

export type ExportFormat = "jsonl" | "csv";

const CSV_COLUMNS = [
  "seq",
  "at",
  "run",
  "job",
  "result",
  "actor",
  "trigger",
  "sourceCommit",
  "ref",
  "checkMode",
  "startedAt",
  "finishedAt",
  "inputs",
  ...TARGET_OUTCOMES,
  "record",
  "prev",
  "hash",
] as const;

export function exportAudit(files: AuditFileText[], options: { since?: Date; format: ExportFormat }): string {
  const ordered = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const lines = ordered.flatMap((f) => splitLines(f.text));
  const since = options.since?.getTime();
  const picked = lines.filter(
    (l) => since === undefined || Date.parse((JSON.parse(l) as AuditEntry).finishedAt) >= since,
  );
  if (options.format === "jsonl") return picked.map((l) => `${l}\n`).join("");
  const rows = [CSV_COLUMNS.join(",")];
  for (const line of picked) {
    const e = JSON.parse(line) as AuditEntry;
    const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      seq: e.seq,
      at: e.at,
      run: e.run,
      job: e.job,
      result: e.result,
      actor: e.actor,
      trigger: e.trigger.kind,
      sourceCommit: e.sourceCommit ?? "",
      ref: e.ref ?? "",
      checkMode: e.checkMode,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
      inputs: JSON.stringify(e.inputs),
      ok: e.counts.ok,
      changed: e.counts.changed,
      failed: e.counts.failed,
      skipped: e.counts.skipped,
      unreachable: e.counts.unreachable,
      timed_out: e.counts.timed_out,
      cancelled: e.counts.cancelled,
      record: e.record,
      prev: e.prev,
      hash: hashLine(line),
    };
    rows.push(CSV_COLUMNS.map((c) => csvCell(values[c])).join(","));
  }
  return `${rows.join("\r\n")}\r\n`;
}

/** RFC 4180 quoting; a leading = + - @ is defused so a spreadsheet never runs a cell as a formula. */
function csvCell(value: unknown): string {
  let text = value === undefined || value === null ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
