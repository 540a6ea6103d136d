/**
 * The runs page's index of the records branch: one small row per run, kept in
 * a file in the server's state directory and brought up to date when the
 * branch moves. Only the trees that changed since the indexed commit are
 * read (runs/YYYY/MM/DD is compared by tree id, level by level), so a new
 * record costs a few reads, not one per run ever recorded; the first start
 * on an old branch reads every run.json once.
 */
import { readFileSync } from "node:fs";
import type { RunSummary } from "../core/run-summary.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { GitRepository } from "../git/git-repository.js";
import { isRunId } from "./record-paths.js";
import { parseRunJson } from "./render-run-json.js";

export interface RunRow {
  id: string;
  job: string;
  result: RunSummary["result"];
  startedAt: string;
  finishedAt: string;
  actor: string;
  trigger: string;
  sourceCommit?: string;
  ref?: string;
  targets: number;
  failedTargets: number;
}

export interface RunsQuery {
  job?: string;
  result?: string;
  trigger?: string;
  actor?: string;
  /** Only runs older than this run id (the next page). */
  before?: string;
  limit?: number;
}

/** Tree id -> what was read under it: child trees by name, or rows for a day folder. */
interface Node {
  oid: string;
  children?: Record<string, Node>;
  rows?: RunRow[];
}

interface IndexFile {
  version: 1;
  branch: string;
  commit: string | null;
  runs: Node | null;
}

export function rowOf(s: RunSummary): RunRow {
  const failed = s.targets.filter((t) => t.outcome !== "ok" && t.outcome !== "changed").length;
  return {
    id: s.id,
    job: s.job,
    result: s.result,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    actor: s.actor,
    trigger: s.trigger.kind,
    ...(s.sourceCommit ? { sourceCommit: s.sourceCommit } : {}),
    ...(s.ref ? { ref: s.ref } : {}),
    targets: s.targets.length,
    failedTargets: failed,
  };
}

export class RunsIndex {
  private data: IndexFile;
  /** Newest first, rebuilt from the tree after each update. */
  private rows: RunRow[] = [];
  private updating: Promise<void> | undefined;
  private readonly git: GitRepository;
  /** run.json files read by the last update (the proof that an update reads only what changed). */
  lastReads = 0;

  constructor(
    repoDir: string,
    private readonly file: string,
    readonly branch: string,
  ) {
    this.git = GitRepository.at(repoDir);
    this.data = this.load();
    this.rows = flatten(this.data.runs);
  }

  /** The commit indexed. */
  get commit(): string | null {
    return this.data.commit;
  }

  /** Brings the index to the branch's tip (one update at a time; callers meanwhile share it). */
  async refresh(): Promise<void> {
    while (this.updating) await this.updating;
    const tip = await this.git.readRef(`refs/heads/${this.branch}`);
    if (tip === this.data.commit) return;
    this.updating = this.update(tip).finally(() => (this.updating = undefined));
    await this.updating;
  }

  /** Every job with a recorded run (for permission checks before a query). */
  async jobs(): Promise<Set<string>> {
    await this.refresh();
    return new Set(this.rows.map((r) => r.job));
  }

  async query(
    q: RunsQuery,
    visible: (job: string) => boolean = () => true,
  ): Promise<{ runs: RunRow[]; commit: string | null; total: number }> {
    await this.refresh();
    const limit = Math.min(500, Math.max(1, q.limit ?? 50));
    let start = 0;
    if (q.before) {
      const i = this.rows.findIndex((r) => r.id === q.before);
      start = i < 0 ? this.rows.length : i + 1;
    }
    const out: RunRow[] = [];
    for (let i = start; i < this.rows.length && out.length < limit; i++) {
      const r = this.rows[i]!;
      if (q.job && r.job !== q.job) continue;
      if (!visible(r.job)) continue;
      if (q.result && r.result !== q.result) continue;
      if (q.trigger && r.trigger !== q.trigger) continue;
      if (q.actor && r.actor !== q.actor) continue;
      out.push(r);
    }
    return { runs: out, commit: this.data.commit, total: this.rows.length };
  }

  private async update(tip: string | null): Promise<void> {
    this.lastReads = 0;
    let runs: Node | null = null;
    if (tip) {
      const commit = await this.git.readCommit(tip);
      const entry = await this.git.entryAt(commit.tree, "runs");
      if (entry && entry.type === "tree") runs = await this.sync(entry.oid, this.data.runs, 0);
    }
    this.data = { version: 1, branch: this.branch, commit: tip, runs };
    this.rows = flatten(runs);
    this.save();
  }

  /** depth 0: runs/, 1: year, 2: month, 3: day (its children are run folders). */
  private async sync(oid: string, old: Node | null | undefined, depth: number): Promise<Node> {
    if (old && old.oid === oid) return old;
    const entries = (await this.git.listTree(oid, "")).filter((e) => e.type === "tree");
    if (depth === 3) {
      const known = new Map((old?.rows ?? []).map((r) => [r.id, r]));
      const rows: RunRow[] = [];
      const children: Record<string, Node> = {};
      for (const e of entries) {
        if (!isRunId(e.path)) continue;
        const runJson = await this.git.entryAt(e.oid, "run.json");
        if (!runJson || runJson.type !== "blob") continue;
        const hit = known.get(e.path);
        if (hit && old?.children?.[e.path]?.oid === runJson.oid) {
          rows.push(hit);
          children[e.path] = { oid: runJson.oid };
          continue;
        }
        try {
          this.lastReads++;
          rows.push(rowOf(parseRunJson(await this.git.readBlobText(runJson.oid))));
          children[e.path] = { oid: runJson.oid };
        } catch {
          // An unreadable run.json is `opsc audit verify`'s to report; the list goes on without it.
        }
      }
      return { oid, rows, children };
    }
    const children: Record<string, Node> = {};
    for (const e of entries) children[e.path] = await this.sync(e.oid, old?.children?.[e.path], depth + 1);
    return { oid, children };
  }

  private load(): IndexFile {
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8")) as IndexFile;
      if (data.version === 1 && data.branch === this.branch) return data;
    } catch {
      // Missing or damaged: rebuilt from the branch on the first request.
    }
    return { version: 1, branch: this.branch, commit: null, runs: null };
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.data));
  }
}

function flatten(node: Node | null): RunRow[] {
  const out: RunRow[] = [];
  const walk = (n: Node): void => {
    if (n.rows) out.push(...n.rows);
    for (const k of Object.keys(n.children ?? {}).sort()) {
      const c = n.children![k]!;
      if (c.rows || c.children) walk(c);
    }
  };
  if (node) walk(node);
  return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
