/**
 * The life of a work item: journaled when accepted, queued by concurrency
 * group, run at its exact commit through the injected JobExecutor, journaled
 * again at each change, and resumed (or marked cut off) at start.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { errorText } from "../core/error-text.js";
import type { Trigger } from "../core/plan-model.js";
import type { JobDef } from "../core/repo-model.js";
import type { RunEvent } from "../core/run-events.js";
import type { RepoMirror } from "../git/repo-mirror.js";
import type { Clock } from "./clock.js";
import type { ModelCache } from "./model-cache.js";
import type { RunEventsHub } from "./run-events-hub.js";
import type { JobExecutor } from "./job-executor.js";
import { RunQueue } from "./run-queue.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { StateStore } from "./state-store.js";
import type { WorkClaim, WorkItem } from "./work-item.js";
import type { ClaimAnswer, Claims } from "../git/claims.js";
import { ClaimRechecks } from "./claim-rechecks.js";
import { submitUnderClaim } from "./claimed-work.js";

export interface WorkItemsOptions {
  store: StateStore;
  mirror: RepoMirror;
  executor: JobExecutor;
  logger: Logger;
  metrics: ServerMetrics;
  clock: Clock;
  /** Runs at once. */
  limit: number;
  /** Push records to the remote after each run. */
  push: boolean;
  /** Where the runs' events go for live followers (`GET /api/runs/:id/events`). */
  events: RunEventsHub;
  /** Models already loaded: a run at a commit whose files are known does not read them again. */
  models: ModelCache;
  /** Claims between replicas: journaled work accepted under one is claimed again at start. */
  claims?: Claims | undefined;
}

/** How long to wait before asking again when the claims remote could not be reached. */
const RECLAIM_RETRY_MS = 30_000;

export class WorkItems {
  readonly queue: RunQueue;
  /** Who waits for an item to end (a claim marked done once its runs are recorded). */
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Journaled work whose claim another replica holds, claimed again when that claim would expire. */
  private readonly rechecks = new ClaimRechecks();

  constructor(private readonly o: WorkItemsOptions) {
    this.queue = new RunQueue({
      limit: o.limit,
      execute: (item, signal) => this.execute(item, signal),
      onChange: (item) => this.changed(item),
      now: () => o.clock.now(),
    });
  }

  /**
   * Queues journaled work again; a run cut off mid-way is marked so, not repeated.
   * Work accepted under a claim is claimed again first: while this replica was
   * down, another one may have taken it over (and run it, or be running it).
   */
  async resume(): Promise<void> {
    const claimed = new Map<string, WorkItem[]>();
    for (const item of this.o.store.journaled()) {
      if (item.status === "running") {
        // Cut off mid-run: the records' crash journal records it as interrupted; running it again could repeat side effects.
        item.status = "failed";
        item.result = "interrupted";
        item.reason = "the runner stopped while this ran";
        item.finishedAt = this.o.clock.now().toISOString();
        this.o.store.finish(item);
        this.o.logger.warn({ job: item.job, item: item.id }, "run was cut off by a restart");
      } else if (item.claim && this.o.claims) {
        const key = `${item.claim.kind}\u0000${item.claim.id}`;
        claimed.set(key, [...(claimed.get(key) ?? []), item]);
      } else {
        this.o.logger.info({ job: item.job, item: item.id }, "resuming journaled work");
        this.queue.enqueue(item);
      }
    }
    await Promise.all([...claimed.values()].map((items) => this.reclaim(items)));
  }

  /** No more looks at claims other replicas hold (shutdown). */
  stop(): void {
    this.rechecks.stop();
  }

  /** Journaled items of one claim: run them if the claim is this replica's again, else leave them to its holder. */
  private async reclaim(items: WorkItem[]): Promise<void> {
    const { kind, id } = items[0]!.claim!;
    const log = this.o.logger.child({ claim: `${kind}/${id}`, items: items.map((i) => i.id) });
    let answer: ClaimAnswer;
    try {
      answer = await this.o.claims!.claim(kind, id);
    } catch (e) {
      // Not run blind: another replica may hold it. Asked again later; journaled meanwhile.
      log.error({ err: errorText(e) }, "cannot claim journaled work again; trying later");
      this.rechecks.at(new Date(Date.now() + RECLAIM_RETRY_MS), () => void this.reclaim(items));
      return;
    }
    if (answer.kind === "won") {
      log.info({ takenOverFrom: answer.takenOverFrom }, "resuming journaled work under its claim");
      const from = answer.takenOverFrom;
      for (const item of items) {
        // Its record says whose expired claim it ran under, as for any work taken over.
        if (from) item.trigger = { ...item.trigger, detail: { ...item.trigger.detail, takenOverFrom: from } };
      }
      await submitUnderClaim(
        answer,
        async () => items.map((item) => this.queue.enqueue(item)),
        (queued) => this.ended(queued),
      );
    } else if (answer.kind === "held") {
      log.info(
        { replica: answer.replica, expiresAt: answer.expiresAt },
        "another replica holds this work's claim",
      );
      this.rechecks.at(answer.expiresAt, () => void this.reclaim(items));
    } else {
      const now = this.o.clock.now().toISOString();
      for (const item of items) {
        item.status = "skipped";
        item.reason = `run by replica ${answer.replica} while this one was down`;
        item.finishedAt = now;
        this.o.store.finish(item);
      }
      log.info({ replica: answer.replica }, "journaled work was run by another replica");
    }
  }

  /** Every run this runner knows: queued and running first, then finished, newest first. */
  runs(limit: number): WorkItem[] {
    return [...this.queue.items(), ...this.o.store.finished(limit)].slice(0, limit);
  }

  submit(
    job: JobDef,
    commit: string,
    ref: string,
    inputs: Record<string, unknown>,
    trigger: Trigger,
    claim?: WorkClaim,
  ): WorkItem {
    // Journaled by the queue's change report, before anything runs (as running when it starts at
    // once, saving a write): from here a restart resumes it.
    const item = this.queue.enqueue({
      ...this.newItem(job, commit, ref, inputs, trigger),
      ...(claim ? { claim } : {}),
    });
    this.o.logger.info({ job: job.id, item: item.id, commit, trigger: trigger.kind }, "work accepted");
    return item;
  }

  /** Journals an item that will not run, as failed with the reason. */
  refuse(
    job: JobDef,
    commit: string,
    ref: string,
    inputs: Record<string, unknown>,
    trigger: Trigger,
    reason: string,
  ): void {
    const item = this.newItem(job, commit, ref, inputs, trigger);
    item.status = "failed";
    item.reason = reason;
    item.finishedAt = item.acceptedAt;
    this.o.store.finish(item);
  }

  private newItem(
    job: JobDef,
    commit: string,
    ref: string,
    inputs: Record<string, unknown>,
    trigger: Trigger,
  ): WorkItem {
    const now = this.o.clock.now();
    return {
      id: `${now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")}-${job.id.replace(/\//g, "-")}-${randomBytes(3).toString("hex")}`,
      job: job.id,
      commit,
      ref,
      inputs,
      trigger,
      ...(job.concurrency ? { concurrency: job.concurrency } : {}),
      acceptedAt: now.toISOString(),
      status: "queued",
    };
  }

  /** Resolves once every item has ended (finished, failed, skipped or cancelled: its record is committed). */
  async ended(items: WorkItem[]): Promise<void> {
    await Promise.all(
      items.map((item) =>
        item.status === "queued" || item.status === "running"
          ? new Promise<void>((resolve) =>
              this.waiting.set(item.id, [...(this.waiting.get(item.id) ?? []), resolve]),
            )
          : undefined,
      ),
    );
  }

  private changed(item: WorkItem): void {
    if (item.status === "queued" || item.status === "running") this.o.store.save(item);
    else {
      this.o.store.finish(item);
      this.o.events.end(item.id);
      for (const resolve of this.waiting.get(item.id) ?? []) resolve();
      this.waiting.delete(item.id);
    }
    if (item.status === "skipped" || item.status === "cancelled") {
      this.o.logger.info({ job: item.job, item: item.id, reason: item.reason }, `work ${item.status}`);
    }
    this.o.metrics.queueDepth.set(this.queue.depth);
    this.o.metrics.running.set(this.queue.active);
  }

  private async execute(item: WorkItem, signal: AbortSignal): Promise<void> {
    let log = this.o.logger.child({ job: item.job, item: item.id });
    let startedLogged = false;
    this.o.events.begin(item.id);
    const onEvent = (event: RunEvent): void => {
      this.o.events.publish(item.id, event);
      this.o.metrics.observe(item.job, event);
      if (event.type === "run.started") {
        item.runId = event.runId;
        log = log.child({ runId: event.runId });
        startedLogged = true;
        this.o.store.save(item);
        log.info({ targets: event.targets.length, commit: item.commit }, "run started");
      } else if (event.type === "step.finished") {
        log.info(
          { target: event.target, step: event.step, outcome: event.outcome, ms: event.ms },
          "step finished",
        );
      } else if (event.type === "target.finished" && event.outcome !== "ok" && event.outcome !== "changed") {
        log.warn({ target: event.target, outcome: event.outcome, reason: event.reason }, "target finished");
      }
    };
    // The model the push was resolved with: the run does not load the repository again.
    const known = this.o.models.known(item.commit);
    const repo =
      known?.files && known.errors.length === 0
        ? { model: known.model, files: known.files, warnings: [] }
        : undefined;
    try {
      const { summary } = await this.o.executor({
        ...(repo ? { repo } : {}),
        repoDir: this.o.mirror.repoDir,
        gitdir: this.o.mirror.gitdir,
        commit: item.commit,
        ...(item.ref ? { ref: item.ref } : {}),
        job: item.job,
        inputs: item.inputs,
        trigger: { ...item.trigger, detail: { ...item.trigger.detail, item: item.id } },
        push: this.o.push,
        signal,
        listeners: [onEvent],
        onLockWait: (w) =>
          log.info(
            { target: w.target, holder: w.run, replica: w.replica, wait: w.wait ?? "skip" },
            "target locked by another run",
          ),
      });
      item.runId = summary.id;
      item.result = summary.result;
      if (summary.result === "cancelled" || summary.result === "interrupted") item.status = "cancelled";
      this.o.metrics.runs.inc({ job: item.job, result: summary.result });
      // The child logger carries runId from run.started; a run that never started adds it here, once.
      (startedLogged ? log : log.child({ runId: summary.id })).info(
        { result: summary.result },
        "run finished",
      );
    } catch (e) {
      this.o.metrics.runs.inc({ job: item.job, result: "error" });
      log.error({ err: errorText(e) }, "run could not start or finish");
      throw e;
    } finally {
      this.o.events.end(item.id);
    }
  }
}
