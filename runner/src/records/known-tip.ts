/**
 * The last records tip this clone saw on origin and found to extend what it
 * knew before: `refs/opsconductor/known/<branch>`. A hash chain cannot tell a
 * rewritten branch from the real one (a forger recomputes it); only history
 * can, so a runner never builds on an origin tip that does not descend from
 * this one, and `opsc audit verify --remote` reports such a tip.
 *
 * A ref, not a file in the state directory: it keeps the known history's
 * objects reachable (git gc will not drop the evidence) and belongs to the
 * repository it describes however OPSC_STATE_DIR is set.
 */
import { environmentError, type OpscError } from "../core/errors.js";
import type { GitRepository } from "../git/git-repository.js";
import { hashLine, splitLines } from "./audit-chain.js";
import { auditHead } from "./record-commit.js";

export const REWRITTEN = "records.remote-rewritten";

export function knownTipRef(branch: string): string {
  return `refs/opsconductor/known/${branch}`;
}

export async function readKnownTip(repo: GitRepository, branch: string): Promise<string | null> {
  return repo.readRef(knownTipRef(branch));
}

export async function writeKnownTip(repo: GitRepository, branch: string, oid: string): Promise<void> {
  await repo.writeRef(knownTipRef(branch), oid);
}

/**
 * Why `tip` does not extend `known`, or null when it does: `known` must be an
 * ancestor of `tip`, and the newest audit line at `known` must still be on
 * `tip`, byte for byte, where it was.
 */
export async function rewriteOf(repo: GitRepository, known: string, tip: string): Promise<string | null> {
  if (known === tip) return null;
  const descends = await repo.isDescendent(tip, known);
  if (!descends) return `${short(known)} is not an ancestor of ${short(tip)}`;
  const knownTree = (await repo.readCommit(known)).tree;
  const last = await auditHead(repo, knownTree);
  if (!last) return null;
  const tipTree = (await repo.readCommit(tip)).tree;
  const entry = await repo.entryAt(tipTree, last.path);
  const text = entry?.type === "blob" ? await repo.readBlobText(entry.oid) : "";
  if (!splitLines(text).some((line) => hashLine(line) === last.head.hash)) {
    return `the audit line seq ${last.head.seq} that ${short(known)} ended with is no longer in ${last.path} at ${short(tip)}`;
  }
  return null;
}

export function rewrittenError(branch: string, known: string, tip: string, why: string): OpscError {
  return environmentError(
    REWRITTEN,
    `origin's ${branch} was rewritten (force-pushed?): it is at ${short(tip)}, which does not extend ${short(known)}, the last records tip this clone knew (${why}). Records are not built on it; they stay on the local branch and are pushed once this is resolved`,
    {
      hint: `compare the two (git log ${short(known)} ${short(tip)}; opsc audit verify --remote); if the new history is legitimate, accept it with \`opsc audit accept-remote ${short(tip)}\``,
    },
  );
}

function short(oid: string): string {
  return oid.slice(0, 12);
}
