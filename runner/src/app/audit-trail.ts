/**
 * `opsc audit verify|accept-remote|export` as use cases: the audit trail's
 * hash chain on the records branch, here or as origin holds it now.
 */
import type { ChainVerification } from "../records/audit-chain.js";
import { exportAudit, type ExportFormat } from "../records/audit-export.js";
import { pushPendingRecords } from "../records/commit-record.js";
import {
  acceptRemoteTip,
  openRecords,
  readAuditFiles,
  verifyRecords,
  verifyRemoteRecords,
} from "../records/records-branch.js";
import { readRecordsSettings } from "./records-settings.js";
import { findRepoRoot } from "./workspace.js";

export interface AuditVerification {
  branch: string;
  /** The records branch verified, or null while nothing is recorded. */
  source: { ref: string; commit: string } | null;
  chain: ChainVerification | null;
  /** With `remote`: why origin's tip does not extend `known`, the last tip this clone knew. */
  rewrite: string | null;
  known: string | null;
}

/** The chain of the local records branch, or (`remote`) of origin's, fetched now. */
export async function verifyAuditTrail(request: {
  repo?: string;
  remote?: boolean;
}): Promise<AuditVerification> {
  const root = findRepoRoot(request.repo);
  const { branch } = readRecordsSettings(root).records;
  if (request.remote) {
    const { src, chain, known, rewrite } = await verifyRemoteRecords(root, branch);
    return { branch, source: src && { ref: src.ref, commit: src.commit }, chain, rewrite, known };
  }
  const src = await openRecords(root, branch);
  const chain = src ? await verifyRecords(src) : null;
  return { branch, source: src && { ref: src.ref, commit: src.commit }, chain, rewrite: null, known: null };
}

/**
 * Takes origin's rewritten records branch at `commit` as the history to build
 * on, then pushes the records this clone holds that are not on it (when
 * records are pushed).
 */
export async function acceptRemoteRecords(request: { repo?: string; commit: string }): Promise<{
  branch: string;
  tip: string;
  previous: string | null;
  pending: Awaited<ReturnType<typeof pushPendingRecords>> | null;
}> {
  const root = findRepoRoot(request.repo);
  const settings = readRecordsSettings(root);
  const { branch } = settings.records;
  const { tip, previous } = await acceptRemoteTip(root, branch, request.commit);
  const pending = settings.records.push ? await pushPendingRecords(root, settings) : null;
  return { branch, tip, previous, pending };
}

/** The audit trail as JSON Lines or CSV; empty while nothing is recorded. */
export async function exportAuditTrail(request: {
  repo?: string;
  format: ExportFormat;
  since?: Date;
}): Promise<string> {
  const root = findRepoRoot(request.repo);
  const src = await openRecords(root, readRecordsSettings(root).records.branch);
  return src
    ? exportAudit(await readAuditFiles(src), {
        format: request.format,
        ...(request.since ? { since: request.since } : {}),
      })
    : "";
}
