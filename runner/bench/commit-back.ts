/**
 * Commit-back latency: writing one run record (run.json, README.md, 8 target
 * logs, one audit line) onto a records branch of 100 files / 10 commits,
 * 10,000 / 1,000 and 100,000 / 10,000, generated with native `git fast-import`.
 * Target: the largest at most 1.5x the smallest, because a record commit
 * touches only the trees along its paths. The floor is native git plumbing
 * doing the same commit (hash-object, ls-tree, mktree, commit-tree, update-ref),
 * measured in the same run.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { RunSummary } from "../src/core/run-summary.js";
import { buildAuditEntry, hashLine, renderAuditLine, type ChainHead } from "../src/records/audit-chain.js";
import { commitRecord, recordFiles } from "../src/records/commit-record.js";
import { auditFile, runDir } from "../src/records/record-paths.js";

export interface BenchCommitBackOptions {
  /** [files, commits] per repository. Default the three sizes of issue 5. */
  sizes?: Array<[number, number]>;
  /** Timed commits per size; the median is reported. Default 15. */
  runs?: number;
  log?: (line: string) => void;
}

export interface CommitBackFigure {
  files: number;
  commits: number;
  opscMs: number;
  nativeMs: number;
}

const BRANCH = "opsconductor/runs";
const TARGETS = 8;
/** One run every two hours: a busy team, about 360 runs a month. */
const RUN_SPACING_MS = 2 * 3600 * 1000;
const START = Date.parse("2024-01-01T00:00:00Z");

function runSummary(i: number): RunSummary {
  const at = new Date(START + i * RUN_SPACING_MS);
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const targets = Array.from({ length: TARGETS }, (_, t) => ({
    name: `web-${t + 1}`,
    phase: "main",
    outcome: "ok" as const,
    ms: 1200 + t,
    steps: ["install", "configure", "reload"].map((id) => ({
      id,
      outcome: "ok" as const,
      ms: 400,
      attempts: 1,
    })),
  }));
  return {
    id: `${stamp}-patch-web-${(i % 65536).toString(16).padStart(4, "0")}`,
    job: "patch-web",
    result: "success",
    startedAt: at.toISOString(),
    finishedAt: new Date(at.getTime() + 5000).toISOString(),
    trigger: { kind: "schedule", actor: "schedule" },
    actor: "schedule",
    sourceCommit: "0123456789abcdef0123456789abcdef01234567",
    inputs: { package: "nginx" },
    checkMode: false,
    targets,
    counts: { ok: TARGETS, changed: 0, failed: 0, skipped: 0, unreachable: 0, timed_out: 0, cancelled: 0 },
  };
}

function runLogs(i: number): Map<string, string> {
  const logs = new Map<string, string>();
  for (let t = 1; t <= TARGETS; t++) {
    logs.set(`web-${t}`, `=== target web-${t}\n${"Reading package lists... Done\n".repeat(30)}run ${i}\n`);
  }
  return logs;
}

/** A records branch of `commits` run records (files/commits files each), through one fast-import stream. */
export async function generateRecordsBranch(gitdir: string, files: number, commits: number): Promise<number> {
  execFileSync("git", ["init", "-q", "--bare", gitdir]);
  const perRun = Math.max(3, Math.round(files / commits));
  const child = spawn("git", ["--git-dir", gitdir, "fast-import", "--quiet"], {
    stdio: ["pipe", "ignore", "inherit"],
  });
  const done = new Promise<void>((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`fast-import exited ${code}`)))),
  );
  const out = child.stdin;
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await new Promise((r) => out.once("drain", r));
  };
  const data = (text: string): string => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let head: ChainHead | null = null;
  const months = new Map<string, string[]>();
  for (let i = 0; i < commits; i++) {
    const s = runSummary(i);
    const dir = runDir(s.id);
    const logs = new Map([...runLogs(i)].slice(0, perRun - 2));
    const record = recordFiles(s, logs);
    const line = renderAuditLine(buildAuditEntry(s, record, head, new Date(s.finishedAt)));
    head = { hash: hashLine(line), seq: i + 1 };
    const month = auditFile(new Date(s.finishedAt));
    const lines = months.get(month) ?? [];
    lines.push(line);
    months.set(month, lines);
    const ts = Math.floor(Date.parse(s.finishedAt) / 1000);
    let cmd = `commit refs/heads/${BRANCH}\nmark :${i + 1}\ncommitter OpsConductor <opsc@bench> ${ts} +0000\n${data(`run ${s.id}`)}`;
    if (i > 0) cmd += `from :${i}\n`;
    for (const f of record) cmd += `M 100644 inline ${dir}/${f.path}\n${data(f.content)}`;
    // The month's audit file is written in full only when the month ends: the tip is what the bench measures.
    const next = i + 1 < commits ? auditFile(new Date(runSummary(i + 1).finishedAt)) : null;
    if (next !== month) cmd += `M 100644 inline ${month}\n${data(lines.map((l) => `${l}\n`).join(""))}`;
    await write(cmd);
  }
  out.end();
  await done;
  const listing = execFileSync("git", ["--git-dir", gitdir, "ls-tree", "-r", "--name-only", BRANCH], {
    maxBuffer: 1 << 28,
  });
  return listing.toString().split("\n").length - 1;
}

/** The same record commit with native plumbing: the floor. */
function nativeCommit(gitdir: string, scratch: string, i: number): void {
  const g = (args: string[], input?: string): string =>
    execFileSync("git", ["--git-dir", gitdir, ...args], { input, encoding: "utf8" }).trim();
  const s = runSummary(i);
  const dir = runDir(s.id);
  const parent = g(["rev-parse", BRANCH]);
  // Blobs: one hash-object for every new file.
  const work = join(scratch, `native-${i}`);
  mkdirSync(join(work, "targets"), { recursive: true });
  const files = recordFiles(s, runLogs(i));
  for (const f of files) writeFileSync(join(work, f.path), f.content);
  const auditPath = auditFile(new Date(s.finishedAt));
  const previous = (() => {
    try {
      return g(["cat-file", "blob", `${BRANCH}:${auditPath}`]) + "\n";
    } catch {
      return "";
    }
  })();
  writeFileSync(join(work, "audit.jsonl"), `${previous}{"seq":${i + 1}}\n`);
  const paths = [...files.map((f) => join(work, f.path)), join(work, "audit.jsonl")];
  const oids = g(["hash-object", "-w", "--stdin-paths"], paths.join("\n")).split("\n");
  const blob = new Map(paths.map((p, k) => [p, oids[k] ?? ""]));
  // Trees: the run folder, then each level up, reading the existing level with ls-tree.
  const mktree = (entries: string[]): string => g(["mktree"], entries.join("\n") + "\n");
  const targets = mktree(
    files
      .filter((f) => f.path.startsWith("targets/"))
      .map((f) => `100644 blob ${blob.get(join(work, f.path))}\t${f.path.slice(8)}`),
  );
  let sub = mktree([
    `100644 blob ${blob.get(join(work, "run.json"))}\trun.json`,
    `100644 blob ${blob.get(join(work, "README.md"))}\tREADME.md`,
    `040000 tree ${targets}\ttargets`,
  ]);
  const replace = (treeish: string, name: string, line: string): string => {
    let existing: string[];
    try {
      existing = g(["ls-tree", treeish])
        .split("\n")
        .filter((l) => l !== "");
    } catch {
      existing = [];
    }
    return mktree([...existing.filter((l) => l.split("\t")[1] !== name), line]);
  };
  const parts = dir.split("/");
  for (let d = parts.length - 1; d >= 1; d--) {
    const name = parts[d] ?? "";
    sub = replace(`${parent}:${parts.slice(0, d).join("/")}`, name, `040000 tree ${sub}\t${name}`);
  }
  const runsTree = sub;
  const [, year, month] = auditPath.split("/");
  const yearTree = replace(
    `${parent}:audit/${year}`,
    month ?? "",
    `100644 blob ${blob.get(join(work, "audit.jsonl"))}\t${month}`,
  );
  const auditTree = replace(`${parent}:audit`, year ?? "", `040000 tree ${yearTree}\t${year}`);
  const root = mktree([
    ...g(["ls-tree", parent])
      .split("\n")
      .filter((l) => !/\t(runs|audit)$/.test(l)),
    `040000 tree ${runsTree}\truns`,
    `040000 tree ${auditTree}\taudit`,
  ]);
  const commit = g([
    "-c",
    "user.name=bench",
    "-c",
    "user.email=b@bench",
    "commit-tree",
    root,
    "-p",
    parent,
    "-m",
    `run ${s.id}`,
  ]);
  g(["update-ref", `refs/heads/${BRANCH}`, commit, parent]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function benchCommitBack(opts: BenchCommitBackOptions = {}): Promise<CommitBackFigure[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const sizes = opts.sizes ?? [
    [100, 10],
    [10_000, 1_000],
    [100_000, 10_000],
  ];
  const runs = opts.runs ?? 15;
  const scratch = mkdtempSync(join(tmpdir(), "opsc-bench-commit-"));
  const figures: CommitBackFigure[] = [];
  const env = { ...process.env, OPSC_STATE_DIR: join(scratch, "state") };
  try {
    for (const [files, commits] of sizes) {
      const gitdir = join(scratch, `repo-${files}.git`);
      const t0 = performance.now();
      const actual = await generateRecordsBranch(gitdir, files, commits);
      log(
        `  generated ${actual} files in ${commits} commits in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      const settings = { records: { branch: BRANCH, push: false } };
      const opsc: number[] = [];
      const native: number[] = [];
      for (let k = 0; k <= runs; k++) {
        // Alternate, so both see the same branch size and the same machine noise.
        const a = performance.now();
        await commitRecord({
          repoDir: gitdir,
          settings,
          summary: runSummary(commits + 2 * k),
          logs: runLogs(k),
          push: false,
          env,
        });
        const b = performance.now();
        nativeCommit(gitdir, scratch, commits + 2 * k + 1);
        const c = performance.now();
        // The first of each is warm-up (module loading, JIT).
        if (k > 0) {
          opsc.push(b - a);
          native.push(c - b);
        }
      }
      const figure = { files, commits, opscMs: median(opsc), nativeMs: median(native) };
      figures.push(figure);
      log(
        `  ${String(files).padStart(7)} files / ${String(commits).padStart(6)} commits: commit-back ${figure.opscMs.toFixed(1)} ms median, native plumbing ${figure.nativeMs.toFixed(1)} ms (ratio ${(figure.opscMs / figure.nativeMs).toFixed(2)}x)`,
      );
      rmSync(gitdir, { recursive: true, force: true });
    }
    const first = figures[0];
    const last = figures[figures.length - 1];
    if (first && last && figures.length > 1) {
      const growth = last.opscMs / first.opscMs;
      log(
        `  largest / smallest: ${growth.toFixed(2)}x (target at most 1.5x) ${growth <= 1.5 ? "OK" : "OVER TARGET"}`,
      );
    }
    return figures;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// `tsx runner/bench/commit-back.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  await benchCommitBack();
}
