/**
 * Reads the records branch: run listing, one run, the audit files, and the
 * verification of the whole trail. The CLI's `runs` and `audit` commands and
 * the server's API call these.
 */
import { errorText } from "../core/error-text.js";
import { environmentError, userError } from "../core/errors.js";
import type { RunSummary } from "../core/run-summary.js";
import { GitRepository } from "../git/git-repository.js";
import { authFromEnv, isHttpUrl } from "../git/remote-auth.js";
import {
  sha256Hex,
  splitLines,
  verifyAuditChain,
  type AuditFileText,
  type ChainVerification,
  type FileManifest,
  type RunRecordHash,
} from "./audit-chain.js";
import { displayUrl } from "../git/display-url.js";
import { AUDIT_HEAD_TRAILER, trailer } from "./record-commit.js";
import { isRunId, runDir } from "./record-paths.js";
import { parseRunJson } from "./render-run-json.js";
import { readKnownTip, rewriteOf, writeKnownTip } from "./known-tip.js";
import { stateDir, withRecordsLock } from "./state-dir.js";

export interface RecordsSource {
  /** The Git adapter on the repository; every read of this source shares its object cache. */
  git: GitRepository;
  /** Commit id of the records branch tip. */
  commit: string;
  tree: string;
  ref: string;
}

/** The records branch (or its remote-tracking ref, or a commit just fetched); null when nothing was recorded yet. */
export async function openRecords(
  repoDir: string,
  branch: string,
  options: { remote?: string; commit?: string; git?: GitRepository } = {},
): Promise<RecordsSource | null> {
  const git = options.git ?? GitRepository.at(repoDir);
  const ref = options.remote ? `refs/remotes/${options.remote}/${branch}` : `refs/heads/${branch}`;
  const commit = options.commit ?? (await git.readRef(ref));
  if (!commit) return null;
  const c = await git.readCommit(commit);
  return { git, commit, tree: c.tree, ref };
}

/** Fetches the records branch from origin; the commit origin holds now (not a remote-tracking ref). */
export async function fetchRecords(
  repoDir: string,
  branch: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  const repo = GitRepository.at(repoDir);
  const url = await repo.remoteUrl("origin");
  if (!url)
    throw userError("records.no-remote", "the repository has no remote named origin", {
      hint: "git remote add origin https://...",
    });
  if (!isHttpUrl(url)) {
    throw userError(
      "records.unsupported-remote",
      `origin is ${displayUrl(url)}; OpsConductor fetches over HTTP(S) only`,
      {
        hint: "use an https:// URL for origin (see docs/records.md)",
      },
    );
  }
  try {
    const onAuth = authFromEnv(env);
    return await repo.fetch({ remote: "origin", ref: branch, ...(onAuth ? { onAuth } : {}) });
  } catch (e) {
    throw environmentError(
      "records.fetch-failed",
      `fetching ${branch} from ${displayUrl(url)} failed: ${errorText(e)}`,
      {
        hint: "check the network and OPSC_GIT_TOKEN / GITHUB_TOKEN",
        cause: e,
      },
    );
  }
}

async function sortedDirs(src: RecordsSource, path: string, pattern: RegExp): Promise<string[]> {
  const entries = await src.git.listTree(src.tree, path);
  return entries
    .filter((e) => e.type === "tree" && pattern.test(e.path))
    .map((e) => e.path)
    .sort();
}

/** Every run directory id, oldest first. */
export async function runIds(src: RecordsSource): Promise<string[]> {
  const out: string[] = [];
  for (const y of await sortedDirs(src, "runs", /^\d{4}$/)) {
    for (const m of await sortedDirs(src, `runs/${y}`, /^\d{2}$/)) {
      for (const d of await sortedDirs(src, `runs/${y}/${m}`, /^\d{2}$/)) {
        out.push(...(await sortedDirs(src, `runs/${y}/${m}/${d}`, /./)).filter(isRunId));
      }
    }
  }
  return out;
}

export async function readRun(
  src: RecordsSource,
  runId: string,
): Promise<{ summary: RunSummary; runJson: string } | null> {
  const entry = await src.git.entryAt(src.tree, `${runDir(runId)}/run.json`);
  if (!entry || entry.type !== "blob") return null;
  const runJson = await src.git.readBlobText(entry.oid);
  return { summary: parseRunJson(runJson), runJson };
}

export async function readRunFile(src: RecordsSource, runId: string, file: string): Promise<string | null> {
  const entry = await src.git.entryAt(src.tree, `${runDir(runId)}/${file}`);
  return entry && entry.type === "blob" ? src.git.readBlobText(entry.oid) : null;
}

/** Newest first; reads run.json only for as many runs as it returns (plus the ones a job filter skips). */
export async function listRuns(
  src: RecordsSource,
  options: { job?: string; limit?: number } = {},
): Promise<RunSummary[]> {
  const ids = (await runIds(src)).reverse();
  const out: RunSummary[] = [];
  for (const id of ids) {
    if (options.limit !== undefined && out.length >= options.limit) break;
    const run = await readRun(src, id);
    if (!run) continue;
    if (options.job !== undefined && run.summary.job !== options.job) continue;
    out.push(run.summary);
  }
  return out;
}

export async function readAuditFiles(src: RecordsSource): Promise<AuditFileText[]> {
  const files: AuditFileText[] = [];
  for (const y of await sortedDirs(src, "audit", /^\d{4}$/)) {
    const entries = await src.git.listTree(src.tree, `audit/${y}`);
    for (const e of entries
      .filter((e) => e.type === "blob" && /^\d{2}\.jsonl$/.test(e.path))
      .sort((a, b) => (a.path < b.path ? -1 : 1))) {
      files.push({ path: `audit/${y}/${e.path}`, text: await src.git.readBlobText(e.oid) });
    }
  }
  return files;
}

/** How far back to look for the newest record commit (outside writers may have committed after it). */
const HEAD_SEARCH_DEPTH = 1000;

/**
 * The chain over every audit file, every run.json against its line, and the
 * newest line against the hash its record commit carries (`Opsc-Audit-Head`),
 * which is what catches an edit of the very last line.
 */
export async function verifyRecords(src: RecordsSource): Promise<ChainVerification> {
  const files = await readAuditFiles(src);
  const runs: RunRecordHash[] = [];
  for (const id of await runIds(src)) {
    const found = await runFolderManifest(src, runDir(id));
    runs.push({ id, sha256: found["run.json"] ?? sha256Hex(""), files: found });
  }
  const result = { ...verifyAuditChain(files, runs), runs: runs.length };
  if (!result.ok || !result.head) return result;
  const vouched = await newestAuditHead(src);
  if (vouched && vouched.hash !== result.head.hash) {
    const last = [...files]
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .filter((f) => f.text !== "")
      .pop();
    return {
      ...result,
      ok: false,
      firstBreak: {
        file: last?.path ?? "audit",
        line: last ? splitLines(last.text).length : 0,
        message: `the newest line hashes to ${result.head.hash}, but record commit ${vouched.commit.slice(0, 12)} wrote ${vouched.hash}: changed after it was committed`,
      },
    };
  }
  return result;
}

/** Every entry under a run folder: blobs by the sha256 of their bytes, anything else by its type and id. */
async function runFolderManifest(src: RecordsSource, dir: string): Promise<FileManifest> {
  const out: FileManifest = {};
  const walk = async (path: string, prefix: string): Promise<void> => {
    for (const e of await src.git.listTree(src.tree, path)) {
      const name = `${prefix}${e.path}`;
      if (e.type === "tree") await walk(`${path}/${e.path}`, `${name}/`);
      else if (e.type === "blob") {
        const blob = await src.git.readBlob(e.oid);
        // A changed mode (a log made executable, a link) is a change too.
        out[name] = e.mode === "100644" ? sha256Hex(blob) : `${e.mode} ${sha256Hex(blob)}`;
      } else out[name] = `${e.type} ${e.oid}`;
    }
  };
  await walk(dir, "");
  return out;
}

async function newestAuditHead(src: RecordsSource): Promise<{ commit: string; hash: string } | null> {
  let oid: string | undefined = src.commit;
  for (let i = 0; oid && i < HEAD_SEARCH_DEPTH; i++) {
    const commit = await src.git.readCommit(oid);
    const hash = trailer(commit.message, AUDIT_HEAD_TRAILER);
    if (hash) return { commit: oid, hash };
    oid = commit.parent[0];
  }
  return null;
}

export interface RemoteVerification {
  /** What origin holds now; null when it has no records yet. */
  src: RecordsSource | null;
  chain: ChainVerification | null;
  /** The last tip this clone knew on origin before the fetch (known-tip.ts), if any. */
  known: string | null;
  /** Why origin's tip does not extend `known`; null when it does. */
  rewrite: string | null;
}

/**
 * `opsc audit verify --remote`: fetches, verifies the chain on the tip just
 * fetched, and checks that it extends the last tip this clone knew. A tip that
 * passes both becomes the known one.
 */
export async function verifyRemoteRecords(
  repoDir: string,
  branch: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RemoteVerification> {
  const repo = GitRepository.at(repoDir);
  const known = (await readKnownTip(repo, branch)) ?? (await repo.readRef(`refs/remotes/origin/${branch}`));
  const tip = await fetchRecords(repoDir, branch, env);
  const src = tip ? await openRecords(repoDir, branch, { remote: "origin", commit: tip }) : null;
  if (!src) return { src: null, chain: null, known, rewrite: null };
  const chain = await verifyRecords(src);
  const rewrite = known ? await rewriteOf(src.git, known, src.commit) : null;
  if (chain.ok && !rewrite) await writeKnownTip(src.git, branch, src.commit);
  return { src, chain, known, rewrite };
}

/**
 * After investigating a rewrite: takes origin's tip as the known one, if it is
 * still the commit the operator looked at. Records not on it are rebuilt on
 * top of it at the next push.
 */
export async function acceptRemoteTip(
  repoDir: string,
  branch: string,
  commit: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ tip: string; previous: string | null }> {
  if (!/^[0-9a-f]{7,40}$/i.test(commit)) {
    throw userError("records.bad-commit", `"${commit}" is not a commit id (7 to 40 hex digits)`, {
      hint: "give the commit origin's records branch is at, as `opsc audit verify --remote` prints it",
    });
  }
  const repo = GitRepository.at(repoDir);
  return withRecordsLock(stateDir(repoDir, env), async () => {
    const tip = await fetchRecords(repoDir, branch, env);
    if (!tip || !tip.startsWith(commit.toLowerCase())) {
      throw userError(
        "records.accept-mismatch",
        `origin's ${branch} is at ${tip ? tip.slice(0, 12) : "(nothing)"}, not ${commit}: it moved since you looked`,
        { hint: "look again (opsc audit verify --remote), then accept the commit it is at now" },
      );
    }
    const previous = await readKnownTip(repo, branch);
    await writeKnownTip(repo, branch, tip);
    return { tip, previous };
  });
}
