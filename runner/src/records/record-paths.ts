/**
 * Where records live on the records branch (DESIGN.md section 3). Pure: the
 * run directory follows from the run id alone, so a commit can be rebuilt on
 * another tip from nothing but the id.
 */
import { userError } from "../core/errors.js";

const RUN_ID = /^(\d{4})(\d{2})(\d{2})T\d{6}Z-[a-z0-9][a-z0-9-]*$/;

/** `runs/2026/11/22/20261122T031500Z-patch-web-7f3a` */
export function runDir(runId: string): string {
  const m = RUN_ID.exec(runId);
  if (!m) {
    throw userError("records.bad-run-id", `"${runId}" is not a run id`, {
      hint: "run ids look like 20261122T031500Z-patch-web-7f3a (see `opsc runs list`)",
    });
  }
  return `runs/${m[1]}/${m[2]}/${m[3]}/${runId}`;
}

export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}

/** `audit/2026/11.jsonl` for the month of `at` (UTC). */
export function auditFile(at: Date): string {
  const y = String(at.getUTCFullYear()).padStart(4, "0");
  const m = String(at.getUTCMonth() + 1).padStart(2, "0");
  return `audit/${y}/${m}.jsonl`;
}

/**
 * A target's log file name inside the run directory. Target ids may hold `/`
 * (validated to `[a-z0-9][a-z0-9._/-]*`); they become subfolders, never `..`.
 */
export function targetLogPath(target: string): string {
  const parts = target.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  return `targets/${parts.length > 0 ? parts.join("/") : "_"}.log`;
}
