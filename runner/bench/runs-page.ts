/**
 * Runs-page latency: `GET /api/records/runs?limit=50` (the dashboard's runs
 * page) over HTTP on a records branch of 100 runs and of 10,000 runs,
 * generated with the project's record writer (recordFiles, audit lines)
 * through `git fast-import`. The route answers from the runs index, so the
 * target is the 10,000-run figure within 2x the 100-run one. Building the
 * index the first time reads every run.json once; that is reported apart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import express from "express";
import pino from "pino";
import { Redactor } from "../src/secrets/redactor.js";
import { dashboardApi } from "../src/server/dashboard-api.js";
import { RunEventsHub } from "../src/server/run-events-hub.js";
import type { RunnerService } from "../src/server/runner-service.js";
import { generateRecordsBranch } from "./commit-back.js";

export interface RunsPageFigure {
  runs: number;
  buildMs: number;
  medianMs: number;
  filteredMs: number;
}

const REQUESTS = 200;

/** Only what the runs route reads of the service: where the records are, and no default branch (default records branch). */
function serviceOver(gitdir: string): RunnerService {
  return {
    repoDir: gitdir,
    events: new RunEventsHub(),
    headModel: () => Promise.reject(new Error("no default branch in this bench")),
    run: () => undefined,
    runs: () => [],
  } as unknown as RunnerService;
}

async function measure(runs: number, log: (line: string) => void): Promise<RunsPageFigure> {
  const dir = mkdtempSync(join(tmpdir(), "opsc-bench-runs-"));
  try {
    const gitdir = join(dir, "records.git");
    await generateRecordsBranch(gitdir, runs * 3, runs);
    const app = express();
    app.use(
      "/api",
      dashboardApi({
        service: serviceOver(gitdir),
        redactor: new Redactor(),
        logger: pino({ level: "silent" }),
        stateDir: dir,
      }),
    );
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/records/runs`;
    const timed = async (query: string): Promise<number> => {
      const t = performance.now();
      const res = await fetch(`${url}?${query}`);
      const body = (await res.json()) as { runs: unknown[]; total: number };
      if (res.status !== 200 || body.total !== runs) throw new Error(`unexpected answer ${res.status}`);
      return performance.now() - t;
    };
    const buildMs = await timed("limit=50");
    for (let i = 0; i < 50; i++) await timed("limit=50"); // warm-up: JIT and the heap after the build
    const median = async (query: string): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) times.push(await timed(query));
      return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    };
    const medianMs = await median("limit=50");
    // Filtering on a value every run has: the page is full after the first 50 rows.
    const filteredMs = await median("limit=50&job=patch-web&trigger=schedule");
    server.close();
    log(
      `${String(runs).padStart(6)} runs: first request (index built) ${buildMs.toFixed(0)} ms, ` +
        `then median ${medianMs.toFixed(2)} ms, filtered ${filteredMs.toFixed(2)} ms`,
    );
    return { runs, buildMs, medianMs, filteredMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRunsPage(
  options: { sizes?: number[]; log?: (line: string) => void } = {},
): Promise<RunsPageFigure[]> {
  const log = options.log ?? ((l: string) => console.log(l));
  const figures: RunsPageFigure[] = [];
  for (const runs of options.sizes ?? [100, 10_000]) figures.push(await measure(runs, log));
  const small = figures[0]!;
  const large = figures.at(-1)!;
  const ratio = large.medianMs / small.medianMs;
  log(
    `runs page at ${large.runs} runs / at ${small.runs} runs: ${ratio.toFixed(2)}x (target: within 2x) ` +
      `${ratio <= 2 ? "ok" : "ABOVE TARGET"}`,
  );
  return figures;
}
