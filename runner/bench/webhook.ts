/**
 * Webhook-to-first-step latency of the self-hosted runner: a signed GitHub push
 * delivery (GitHub's example payload, with our commits) goes to an in-process
 * server whose mirror is warm (already cloned); the clock stops when the first
 * step starts on a local target. Each iteration pushes a new commit to a
 * loopback Git smart-HTTP remote first, so the server really fetches, claims
 * and reads the job at the pushed commit. Target: median <= 150 ms.
 *
 * Run alone: npx tsx runner/bench/webhook.ts [N]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { executeJob } from "../src/app/execute-job.js";
import { Redactor } from "../src/secrets/redactor.js";
import { createLogger } from "../src/server/server-logger.js";
import { startServer } from "../src/server/start-server.js";
import { BASE_FILES, jobYaml, TestRepo } from "../test/helpers/automation-repo.js";
import { startGitHttpServer } from "../test/helpers/git-http-server.js";
import { delivery, examplePayload, send } from "../test/helpers/github-delivery.js";

export interface WebhookBenchOptions {
  /** Deliveries measured (default 20), after 2 warm-up ones. */
  iterations?: number;
  /** Claim each delivery on the remote, as replicas do (default true). */
  claims?: boolean;
  log?: (line: string) => void;
}

export interface WebhookBenchResult {
  iterations: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

const SECRET = "bench-secret";

export async function benchWebhook(opts: WebhookBenchOptions = {}): Promise<WebhookBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const iterations = opts.iterations ?? 20;
  const remote = await startGitHttpServer();
  const repo = new TestRepo("opsc-bench-repo-");
  const state = mkdtempSync(join(tmpdir(), "opsc-bench-state-"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", repo.dir, ...args], { encoding: "utf8" }).trim();
  let head = repo.commit({
    ...BASE_FILES,
    "jobs/hello.yaml": jobYaml(`on:\n  push: { branches: [main], paths: ["steps/**"] }`, "true"),
  });
  git("push", "-q", "--force", remote.bareDir, "main");
  execFileSync("git", ["-C", remote.bareDir, "symbolic-ref", "HEAD", "refs/heads/main"]);

  let firstStep: ((at: number) => void) | undefined;
  const redactor = new Redactor();
  const server = await startServer({
    repo: remote.url,
    state,
    port: 0,
    webhookSecret: SECRET,
    claims: opts.claims ?? true,
    push: false,
    useNodeCron: false,
    redactor,
    logger: createLogger({
      redactor,
      level: "warn",
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    }),
    executor: (req) =>
      executeJob({
        ...req,
        listeners: [
          ...(req.listeners ?? []),
          (e) => {
            if (e.type === "step.started") firstStep?.(performance.now());
          },
        ],
      }),
  });
  const samples: number[] = [];
  try {
    for (let i = 0; i < iterations + 2; i++) {
      const before = head;
      head = repo.commit({ [`steps/s${i}.yaml`]: `run: echo ${i}\n` });
      git("push", "-q", "--force", remote.bareDir, "main");
      const started = new Promise<number>((resolve) => (firstStep = resolve));
      const d = delivery(
        "push",
        examplePayload("push", { ref: "refs/heads/main", before, after: head, deleted: false }),
      );
      const t0 = performance.now();
      const res = await send(server.url, d, SECRET);
      if (res.status !== 202) throw new Error(`delivery answered ${res.status}`);
      const t1 = await started;
      await server.service.settled();
      await server.service.queue.idle();
      if (i >= 2) samples.push(t1 - t0);
    }
  } finally {
    await server.close(0);
    await remote.close();
    repo.remove();
    rmSync(state, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  const result = {
    iterations,
    medianMs: q(0.5),
    p95Ms: q(0.95),
    minMs: samples[0]!,
    maxMs: samples[samples.length - 1]!,
  };
  log(
    `webhook -> first step (warm mirror, claims ${(opts.claims ?? true) ? "on" : "off"}): median ${result.medianMs.toFixed(0)} ms, ` +
      `p95 ${result.p95Ms.toFixed(0)} ms (min ${result.minMs.toFixed(0)}, max ${result.maxMs.toFixed(0)}, n=${iterations}); ` +
      `target median <= 150 ms: ${result.medianMs <= 150 ? "met" : "NOT met"}`,
  );
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await benchWebhook({ iterations: Number(process.argv[2] ?? 20) });
}
