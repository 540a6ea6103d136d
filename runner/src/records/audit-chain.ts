/**
 * The audit trail: one canonical JSON line per run in `audit/YYYY/MM.jsonl`,
 * each carrying the sha256 of the line before it, so removing or changing any
 * line breaks every hash after it, and the sha256 of every file of its run
 * folder, so no log or README can be changed, removed or added unnoticed.
 * Pure: building, re-chaining and verifying.
 */
import { createHash } from "node:crypto";
import type { RunSummary } from "../core/run-summary.js";
import { canonicalJson } from "../core/canonical-json.js";
import { runDir } from "./record-paths.js";

/** 2: lines carry `files`. Lines of version 1 vouch for run.json only (see docs/records.md). */
export const AUDIT_VERSION = 2;
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
  /**
   * Every file of the run folder (path inside it -> sha256 of its bytes), run.json included.
   * Absent on version 1 lines.
   */
  files?: FileManifest;
}

/** Path inside a run folder (`targets/web-1.log`) -> sha256 (hex) of the file's bytes. */
export type FileManifest = Record<string, string>;

/** The manifest of the files a record commit writes into its run folder. */
export function fileManifest(files: ReadonlyArray<{ path: string; content: string }>): FileManifest {
  return Object.fromEntries(files.map((f) => [f.path, sha256Hex(f.content)]));
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

/** `files` is every file of the run folder; the one named run.json is the record. */
export function buildAuditEntry(
  summary: RunSummary,
  files: ReadonlyArray<{ path: string; content: string }>,
  head: ChainHead | null,
  at: Date,
): AuditEntry {
  const runJson = files.find((f) => f.path === "run.json")?.content ?? "";
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
    files: fileManifest(files),
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
  /**
   * Every entry of the run folder as found on the branch. A blob maps to the sha256
   * of its bytes; anything else (a link to another commit) to a value no hash equals.
   */
  files?: FileManifest;
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
  /**
   * Lines written before audit format 2 (no `files`): they vouch for their run.json only,
   * so the logs and README of those runs are not covered.
   */
  withoutManifest?: number;
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
  let withoutManifest = 0;
  const seen = new Map<string, { file: string; line: number; record: string; files?: FileManifest }>();
  const broken = (file: string, line: number, message: string): ChainVerification => ({
    ok: false,
    lines: count,
    head,
    withoutManifest,
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
      if (entry.files !== undefined && !isManifest(entry.files)) {
        return broken(file.path, n, "files is not a map of path to sha256");
      }
      seen.set(entry.run, {
        file: file.path,
        line: n,
        record: entry.record,
        ...(entry.files ? { files: entry.files } : {}),
      });
      if (!entry.files) withoutManifest++;
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
    const mismatch = line.files && run.files ? firstMismatch(line.files, run.files) : null;
    if (mismatch) {
      const at = `${line.file}:${line.line}`;
      return broken(
        `${runDir(run.id)}/${mismatch.path}`,
        0,
        `${mismatch.how} after its audit line (${at}) was written`,
      );
    }
  }
  const runIds = new Set(runs.map((r) => r.id));
  for (const [id, where] of seen) {
    if (!runIds.has(id))
      return broken(where.file, where.line, `the run directory of ${id} is missing (removed?)`);
  }
  return { ok: true, lines: count, head, withoutManifest };
}

function isManifest(value: unknown): value is FileManifest {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.values(value).every((h) => typeof h === "string")
  );
}

/** The first path (in order) that differs between what a line vouches for and what the folder holds. */
function firstMismatch(
  vouched: FileManifest,
  found: FileManifest,
): { path: string; how: "changed" | "removed" | "added" } | null {
  const paths = [...new Set([...Object.keys(vouched), ...Object.keys(found)])].sort();
  for (const path of paths) {
    const want = Object.hasOwn(vouched, path) ? vouched[path] : undefined;
    const got = Object.hasOwn(found, path) ? found[path] : undefined;
    if (want === got) continue;
    return { path, how: want === undefined ? "added" : got === undefined ? "removed" : "changed" };
  }
  return null;
}
