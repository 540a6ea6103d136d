/** `opsc runs list|show`: run history from the records branch. */
import { Command } from "commander";
import { usageError } from "../../core/errors.js";
import { textTable } from "../../core/text-table.js";
import { EXIT } from "../../core/exit-codes.js";
import type { RunSummary } from "../../core/run-summary.js";
import { formatDuration } from "../../core/format-duration.js";
import type { MergedShards } from "../../app/run-history.js";

interface ListOptions {
  repo?: string;
  job?: string;
  limit: string;
  format: string;
}

interface ShowOptions {
  repo?: string;
  log?: string;
  format: string;
  follow?: boolean;
  server?: string;
}

const write = (s: string): void => void process.stdout.write(s);

export function register(program: Command): void {
  const runs = program
    .command("runs")
    .description("Run history from the records branch")
    .addHelpText(
      "after",
      `
Examples:
  $ opsc runs list --job patch-web
  $ opsc runs show 7f3a

See docs/records.md.`,
    );
  runs
    .command("list")
    .description("List recorded runs, newest first")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--job <job>", "only runs of this job")
    .option("--limit <n>", "at most this many runs", "20")
    .option("--format <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Reads the local records branch (opsconductor.yaml records.branch, default opsconductor/runs);
\`git fetch origin opsconductor/runs:opsconductor/runs\` brings other runners' records.

Examples:
  $ opsc runs list
  $ opsc runs list --job patch-web --limit 5
  $ opsc runs list --format json | jq '.[] | select(.result == "failure") | .id'`,
    )
    .action(async (opts: ListOptions) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw usageError("cli.bad-limit", `--limit ${opts.limit}: expected a whole number above 0`);
      const format = formatOf(opts.format);
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { listRecordedRuns } = await import("../../app/run-history.js");
      const { recorded, runs: found } = await listRecordedRuns({
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        ...(opts.job !== undefined ? { job: opts.job } : {}),
        limit,
      });
      if (format === "json") return write(`${JSON.stringify(found, null, 2)}\n`);
      if (found.length === 0)
        return write(recorded ? "no runs recorded for that job\n" : "no runs recorded yet\n");
      write(renderList(found));
    });
  runs
    .command("show")
    .description("Show one recorded run: result, who, what commit, targets by steps")
    .argument("<run-id>", "run id, or an unambiguous part of one (its start or its 4-letter suffix)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--log <target>", "print this target's log instead")
    .option("--format <format>", "text or json (run.json as committed)", "text")
    .option("--follow", "follow the run live on a server (--server), from its first event to its end")
    .option("--server <url>", "with --follow: the `opsc serve` to ask; the token is read from OPSC_TOKEN")
    .addHelpText(
      "after",
      `
With --follow, ID is the server's work item id or run id (as POST /api/jobs/JOB/runs and
GET /api/runs give it); the exit code is the run's: 0 success, 1 failure, 130 cancelled.

Examples:
  $ opsc runs show 20261122T031500Z-patch-web-7f3a
  $ opsc runs show 7f3a --log web-1
  $ opsc runs show 7f3a --format json
  $ OPSC_TOKEN=... opsc runs show 20261122T031500Z-patch-web-1a2b3c --follow --server https://opsc.example.com`,
    )
    .action(async (wanted: string, opts: ShowOptions) => {
      const format = formatOf(opts.format);
      if (opts.follow || opts.server !== undefined) {
        if (!opts.follow || !opts.server)
          throw usageError("cli.follow-needs-server", "--follow and --server go together", {
            hint: "opsc runs show ID --follow --server http://127.0.0.1:8080",
          });
        process.exitCode = await follow(opts.server, wanted, format);
        return;
      }
      const { showRecordedRun } = await import("../../app/run-history.js");
      const run = await showRecordedRun({
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        wanted,
        ...(opts.log !== undefined ? { log: opts.log } : {}),
        mergeShards: format === "text",
      });
      if (run.kind === "log") return write(run.text);
      if (run.kind === "shards") return write(renderShards(run.merged));
      write(format === "json" ? run.runJson : renderRun(run.summary));
    });
}

/** Prints the run's events as they come; the exit code says how it ended. */
async function follow(server: string, id: string, format: "text" | "json"): Promise<number> {
  const { followRun } = await import("../follow-run.js");
  let result: string | undefined;
  for await (const e of followRun(server, id, process.env.OPSC_TOKEN || undefined)) {
    if (format === "json") write(`${JSON.stringify(e)}\n`);
    else if (e.type === "run.started") write(`run ${e.runId} of ${e.job} on ${e.targets.join(", ")}\n`);
    else if (e.type === "step.started") write(`[${e.target}] >>> step ${e.step}\n`);
    else if (e.type === "step.output") write(`[${e.target}] ${e.stream === "stderr" ? "! " : ""}${e.line}\n`);
    else if (e.type === "step.finished")
      write(`[${e.target}] <<< step ${e.step} ${e.outcome} in ${formatDuration(e.ms)}\n`);
    else if (e.type === "target.finished")
      write(`[${e.target}] ${e.outcome}${e.reason ? `: ${e.reason}` : ""}\n`);
    else if (e.type === "run.finished") write(`${e.result} in ${formatDuration(e.ms)}\n`);
    if (e.type === "run.finished") result = e.result;
  }
  if (result === undefined) {
    process.stderr.write("opsc: the run ended without a result (not started, skipped or refused)\n");
    return EXIT.failed;
  }
  return result === "success" ? EXIT.ok : result === "cancelled" ? EXIT.interrupted : EXIT.failed;
}

function formatOf(format: string): "text" | "json" {
  if (format !== "text" && format !== "json")
    throw usageError("cli.bad-format", `--format ${format}: expected text or json`);
  return format;
}

function okOf(s: RunSummary): string {
  return `${s.counts.ok + s.counts.changed + s.counts.skipped}/${s.targets.length}`;
}

export function renderList(runs: RunSummary[]): string {
  const rows = [["RUN", "JOB", "RESULT", "OK", "DURATION", "TRIGGER"]];
  for (const s of runs) {
    const ms = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
    rows.push([
      s.id,
      s.job,
      s.result,
      okOf(s),
      Number.isFinite(ms) ? formatDuration(ms) : "?",
      `${s.trigger.kind} by ${s.actor}`,
    ]);
  }
  return `${textTable(rows).join("\n")}\n`;
}

export function renderRun(s: RunSummary): string {
  const lines = [
    `run ${s.id}`,
    `  job:       ${s.job}`,
    `  result:    ${s.result}${s.checkMode ? " (check mode)" : ""} (${okOf(s)} targets ok)`,
    `  trigger:   ${s.trigger.kind} by ${s.actor}`,
    `  commit:    ${
      s.sourceCommit ??
      (s.dirtyTree
        ? `working tree on ${s.dirtyTree.base ?? "no commit"}, uncommitted: ${s.dirtyTree.paths.join(", ")}`
        : "working tree (uncommitted)")
    }`,
    `  started:   ${s.startedAt}`,
    `  finished:  ${s.finishedAt}`,
  ];
  if (Object.keys(s.inputs).length > 0) lines.push(`  inputs:    ${JSON.stringify(s.inputs)}`);
  if (s.lastFinishedStep)
    lines.push(`  last finished step: ${s.lastFinishedStep.step} on ${s.lastFinishedStep.target}`);
  lines.push("");
  const rows = [["TARGET", "OUTCOME", "DURATION", "STEPS"]];
  for (const t of s.targets) {
    const steps = t.steps.map((st) => `${st.id}:${st.outcome}`).join(" ");
    rows.push([t.name, t.outcome, formatDuration(t.ms), `${steps}${t.reason ? `  (${t.reason})` : ""}`]);
  }
  return `${lines.join("\n")}\n${s.targets.length > 0 ? `${textTable(rows).join("\n")}\n` : "  no targets\n"}`;
}

/** A sharded run merged from its shards' records, then which record each shard is. */
export function renderShards(m: MergedShards): string {
  const count = m.shards[0]?.count ?? 1;
  const lines = [
    `  shards:    ${m.shards.length} of ${count} recorded${m.missing.length ? ` (no record yet for ${m.missing.map((i) => `${i}/${count}`).join(", ")})` : ""}`,
  ];
  for (const s of m.shards) lines.push(`    ${s.index}/${s.count}  ${s.id}  ${s.result}`);
  const [head, ...rest] = renderRun(m.summary).split("\n");
  return [head, ...lines, ...rest].join("\n");
}
