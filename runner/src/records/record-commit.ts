/**
 * Builds one record commit on a given parent, object by object: the run
 * directory's blobs and trees, the audit file with one line appended (chained
 * to the last line on that parent), the commit. Also replays a record commit
 * onto another tip, which is how a push that lost a race is rebuilt.
 */
import { bug } from "../core/errors.js";
import type { RunSummary } from "../core/run-summary.js";
import type { GitRepository } from "../git/git-repository.js";
import type { TreeInput } from "../git/write-tree.js";
import { hashLine, rechainAuditLine, splitLines, type ChainHead } from "./audit-chain.js";
import { auditFile } from "./record-paths.js";

export { DEFAULT_AUTHOR, type Signature } from "../git/author.js";
import type { Signature } from "../git/author.js";

/** The last audit file and line on a tree: the chain head new lines attach to. */
export async function auditHead(
  repo: GitRepository,
  tree: string | null,
): Promise<{ path: string; text: string; head: ChainHead } | null> {
  if (!tree) return null;
  const years = (await repo.listTree(tree, "audit")).filter(
    (e) => e.type === "tree" && /^\d{4}$/.test(e.path),
  );
  years.sort((a, b) => (a.path < b.path ? 1 : -1));
  for (const year of years) {
    const months = await repo.readTree(year.oid);
    const files = months.filter((e) => e.type === "blob" && /^\d{2}\.jsonl$/.test(e.path));
    files.sort((a, b) => (a.path < b.path ? 1 : -1));
    for (const file of files) {
      const text = await repo.readBlobText(file.oid);
      const lines = splitLines(text);
      const last = lines[lines.length - 1];
      if (last === undefined) continue;
      const entry = JSON.parse(last) as { seq: number };
      return {
        path: `audit/${year.path}/${file.path}`,
        text,
        head: { hash: hashLine(last), seq: entry.seq },
      };
    }
  }
  return null;
}

export interface RecordContent {
  runId: string;
  /** `runs/YYYY/MM/DD/<id>` */
  dir: string;
  /** Files inside the run directory, or an existing tree of it (replay). */
  files: Array<{ path: string; content: string }> | { tree: string };
  /** Given the chain head on the parent, the audit line (without newline). */
  auditLine(head: ChainHead | null, at: Date): string;
  message: string;
  author: Signature;
}

export async function buildRecordCommit(
  repo: GitRepository,
  parent: string | null,
  record: RecordContent,
  now: Date,
): Promise<string> {
  const parentTree = parent ? (await repo.readCommit(parent)).tree : null;
  const last = await auditHead(repo, parentTree);
  // Lines stay in order even if this machine's clock is behind the last writer's.
  const wanted = auditFile(now);
  const path = last && last.path > wanted ? last.path : wanted;
  const line = record.auditLine(last?.head ?? null, now);
  const before =
    last && last.path === path ? last.text : parentTree ? await existingText(repo, parentTree, path) : "";
  const inputs: TreeInput[] = [{ path, content: `${before}${line}\n` }];
  if ("tree" in record.files) inputs.push({ path: record.dir, tree: record.files.tree });
  else for (const f of record.files) inputs.push({ path: `${record.dir}/${f.path}`, content: f.content });
  const tree = await repo.writeTreeWith(parentTree, inputs);
  const stamp = { ...record.author, timestamp: Math.floor(now.getTime() / 1000), timezoneOffset: 0 };
  // The commit vouches for the newest line: the chain alone cannot tell if its last line was edited.
  const message = `${withoutTrailer(record.message, AUDIT_HEAD_TRAILER).trimEnd()}\n${AUDIT_HEAD_TRAILER}: ${hashLine(line)}\n`;
  return repo.writeCommit({ tree, parent: parent ? [parent] : [], author: stamp, committer: stamp, message });
}

async function existingText(repo: GitRepository, tree: string, path: string): Promise<string> {
  const entry = await repo.entryAt(tree, path);
  return entry && entry.type === "blob" ? repo.readBlobText(entry.oid) : "";
}

export function recordMessage(summary: RunSummary): string {
  const ok = summary.counts.ok + summary.counts.changed + summary.counts.skipped;
  const subject = `run ${summary.id}: ${summary.job} ${summary.result} (${ok}/${summary.targets.length})`;
  const trailers = [
    `Opsc-Run: ${summary.id}`,
    `Opsc-Job: ${summary.job}`,
    `Opsc-Source-Commit: ${summary.sourceCommit ?? "none"}`,
    `Opsc-Trigger: ${summary.trigger.kind} ${oneLine(summary.actor)}`,
  ];
  return `${subject}\n\n${trailers.join("\n")}\n`;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

export const AUDIT_HEAD_TRAILER = "Opsc-Audit-Head";

function withoutTrailer(message: string, key: string): string {
  return message.replace(new RegExp(`^${key}: .*\n?`, "m"), "");
}

export function trailer(message: string, key: string): string | undefined {
  const m = new RegExp(`^${key}: (.*)$`, "m").exec(message);
  return m?.[1];
}

/** Whether a run directory is already on a tree (a record that already landed). */
export async function hasRun(repo: GitRepository, tree: string, dir: string): Promise<boolean> {
  return (await repo.entryAt(tree, `${dir}/run.json`)) !== null;
}

/**
 * Rebuilds record commit `oid` on `newParent`: its run directory tree is
 * grafted unchanged, its audit line re-chained to the new head.
 */
export async function replayRecordCommit(
  repo: GitRepository,
  oid: string,
  newParent: string,
  dir: string,
  now: Date,
): Promise<string> {
  const commit = await repo.readCommit(oid);
  const runTree = await repo.entryAt(commit.tree, dir);
  const own = await auditHead(repo, commit.tree);
  const runId = dir.slice(dir.lastIndexOf("/") + 1);
  const ownLine = own
    ? splitLines(own.text)
        .reverse()
        .find((l) => (JSON.parse(l) as { run?: string }).run === runId)
    : undefined;
  if (!runTree || runTree.type !== "tree" || ownLine === undefined) {
    throw bug("records.replay", `record commit ${oid} has no run directory or audit line for ${runId}`);
  }
  return buildRecordCommit(
    repo,
    newParent,
    {
      runId,
      dir,
      files: { tree: runTree.oid },
      auditLine: (head, at) => rechainAuditLine(ownLine, head, at),
      message: commit.message,
      author: { name: commit.author.name, email: commit.author.email },
    },
    now,
  );
}
