/**
 * The audit trail: one canonical JSON line per run in `audit/YYYY/MM.jsonl`,
 * each carrying the sha256 of the line before it, so removing or changing any
 * line breaks every hash after it. Pure: building, re-chaining and verifying.
 */
import { createHash } from "node:crypto";
import type { RunSummary } from "../core/run-summary.js";
import { canonicalJson } from "./canonical-json.js";

export const AUDIT_VERSION = 1;
/** The `prev` of the very first line. */
export const GENESIS = "0".repeat(64);

export interface AuditEntry {
  v: number;
  /** 1 for the first line ever, +1 per line across all files. */
  seq: number;
  /** sha256 (hex) of the previous line's text, or GENESIS. */
  prev: string;
  /** When the line was written (not when the run started). */
  at: string;
  run: string;
  job: string;
  result: RunSummary["result"];
  actor: string;
  trigger: RunSummary["trigger"];
  sourceCommit?: string;
  /** Present when the run was from a working tree that differed from its HEAD. */
  dirtyTree?: RunSummary["dirtyTree"];
  ref?: string;
  inputs: Record<string, unknown>;
  checkMode: boolean;
  startedAt: string;
  finishedAt: string;
  counts: RunSummary["counts"];
  /** sha256 (hex) of the run's run.json bytes: the line vouches for the record too. */
  record: string;
}

export interface ChainHead {
  hash: string;
  seq: number;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function hashLine(line: string): string {
  return sha256Hex(line);
}

export function buildAuditEntry(
  summary: RunSummary,
  runJson: string,
  head: ChainHead | null,
  at: Date,
): AuditEntry {
  return {
    v: AUDIT_VERSION,
    seq: head ? head.seq + 1 : 1,
    prev: head ? head.hash : GENESIS,
    at: at.toISOString(),
    run: summary.id,
    job: summary.job,
    result: summary.result,
    actor: summary.actor,
    trigger: summary.trigger,
    sourceCommit: summary.sourceCommit,
    ...(summary.dirtyTree ? { dirtyTree: summary.dirtyTree } : {}),
    ref: summary.ref,
    inputs: summary.inputs,
    checkMode: summary.checkMode,
    startedAt: summary.startedAt,
    finishedAt: summary.finishedAt,
    counts: summary.counts,
    record: sha256Hex(runJson),
  };
}

export function renderAuditLine(entry: AuditEntry): string {
  return canonicalJson(entry);
}

/** The same entry moved onto another chain head (a push lost a race). */
export function rechainAuditLine(line: string, head: ChainHead | null, at: Date): string {
  const entry = JSON.parse(line) as AuditEntry;
  return renderAuditLine({
    ...entry,
    seq: head ? head.seq + 1 : 1,
    prev: head ? head.hash : GENESIS,
    at: at.toISOString(),
  });
}

/** Lines of a `.jsonl` file, without the trailing empty one. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export interface AuditFileText {
  /** `audit/2026/11.jsonl` */
  path: string;
  text: string;
}

export interface RunRecordHash {
  id: string;
  /** sha256 of run.json. */
  sha256: string;
}

export interface ChainBreak {
  file: string;
  /** 1-based; 0 when the problem is a run directory with no line at all. */
  line: number;
  message: string;
}

export interface ChainVerification {
  ok: boolean;
  lines: number;
  head: ChainHead | null;
  firstBreak?: ChainBreak;
  /** Run records checked against their audit lines (set when verifying a records branch). */
  runs?: number;
}

/**
 * Recomputes the chain over every file in order, then checks that every run
 * directory has exactly one line and that the line's `record` hash matches its
 * run.json. Stops at the first break: everything after it is suspect anyway.
 */
export function verifyAuditChain(files: AuditFileText[], runs: RunRecordHash[]): ChainVerification {
  const ordered = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let head: ChainHead | null = null;
  let count = 0;
  const seen = new Map<string, { file: string; line: number; record: string }>();
  const broken = (file: string, line: number, message: string): ChainVerification => ({
    ok: false,
    lines: count,
    head,
    firstBreak: { file, line, message },
  });
  for (const file of ordered) {
    if (file.text !== "" && !file.text.endsWith("\n")) {
      return broken(
        file.path,
        splitLines(file.text).length,
        "the file does not end with a newline (truncated?)",
      );
    }
    const lines = splitLines(file.text);
    for (const [i, line] of lines.entries()) {
      const n = i + 1;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(line) as AuditEntry;
      } catch {
        return broken(file.path, n, "the line is not valid JSON");
      }
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        return broken(file.path, n, "the line is not a JSON object");
      }
      if (canonicalJson(entry) !== line) {
        return broken(file.path, n, "the line is not in canonical form (edited by hand?)");
      }
      const wantPrev = head ? head.hash : GENESIS;
      if (entry.prev !== wantPrev) {
        return broken(
          file.path,
          n,
          head
            ? `prev is ${String(entry.prev)} but the line before hashes to ${wantPrev}: a line before it was changed or removed`
            : `the first line must have prev ${GENESIS}: lines before it were removed`,
        );
      }
      const wantSeq: number = head ? head.seq + 1 : 1;
      if (entry.seq !== wantSeq)
        return broken(file.path, n, `seq is ${String(entry.seq)}, expected ${wantSeq}`);
      if (seen.has(entry.run)) {
        const first = seen.get(entry.run);
        return broken(file.path, n, `run ${entry.run} already has a line at ${first?.file}:${first?.line}`);
      }
      seen.set(entry.run, { file: file.path, line: n, record: entry.record });
      head = { hash: hashLine(line), seq: entry.seq };
      count++;
    }
  }
  for (const run of [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const line = seen.get(run.id);
    if (!line) return broken(`run ${run.id}`, 0, "the run directory has no audit line");
    if (line.record !== run.sha256) {
      return broken(
        line.file,
        line.line,
        `run.json of ${run.id} does not match the hash in its audit line (changed?)`,
      );
    }
  }
  const runIds = new Set(runs.map((r) => r.id));
  for (const [id, where] of seen) {
    if (!runIds.has(id))
      return broken(where.file, where.line, `the run directory of ${id} is missing (removed?)`);
  }
  return { ok: true, lines: count, head };
}
