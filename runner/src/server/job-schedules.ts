/**
 * Schedules and missed ticks: registers the schedules of the default branch's
 * head (keeping the last good set when a push breaks the repository), turns a
 * tick into a work item, and records a missed tick once across replicas.
 */
import type { Logger } from "pino";
import type { Diagnostic } from "../core/diagnostic.js";
import { errorText } from "../core/error-text.js";
import type { RepoModel, Settings } from "../core/repo-model.js";
import type { Claims } from "../git/claims.js";
import { ClaimRechecks } from "./claim-rechecks.js";
import { submitUnderClaim } from "./claimed-work.js";
import type { MissedTickFacts } from "../records/missed-tick.js";
import { DEFAULT_RECORDS_BRANCH } from "../repo/build-model.js";
import type { Clock } from "./clock.js";
import type { ModelCache } from "./model-cache.js";
import { Scheduler, type ScheduledTick } from "./scheduler.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { StateStore } from "./state-store.js";
import type { WorkClaim, WorkItem } from "./work-item.js";
import type { WorkItems } from "./work-items.js";

/** A missed tick as the scheduler reports it, with the records settings of the commit it was read at. */
export interface MissedTick extends MissedTickFacts {
  records: Settings["records"];
}

export interface JobSchedulesOptions {
  store: StateStore;
  models: ModelCache;
  work: WorkItems;
  logger: Logger;
  metrics: ServerMetrics;
  clock: Clock;
  claims?: Claims | undefined;
  /** Appends a missed tick to the audit trail. */
  recordMissed?: ((tick: MissedTick) => Promise<void>) | undefined;
  /** Let node-cron wake the scheduler; tests call `tick()` with a manual clock. */
  useNodeCron?: boolean | undefined;
  toleranceMs?: number | undefined;
  /** True once the runner is shutting down: no new tick is fired. */
  stopping: () => boolean;
}

export class JobSchedules {
  readonly scheduler: Scheduler;
  private scheduledCommit: string | undefined;
  /** Ticks other replicas hold, looked at again when their claims would expire. */
  private readonly rechecks = new ClaimRechecks();

  constructor(private readonly o: JobSchedulesOptions) {
    this.scheduler = new Scheduler({
      clock: o.clock,
      load: () => o.store.readValue<Record<string, string>>("schedules"),
      save: (v) => o.store.writeValue("schedules", v),
      fire: (tick) => this.fireTick(tick),
      missed: (tick) => this.missTick(tick),
      useNodeCron: o.useNodeCron ?? false,
      ...(o.toleranceMs !== undefined ? { toleranceMs: o.toleranceMs } : {}),
      onError: (e) => o.logger.error({ err: errorText(e) }, "scheduler failed"),
    });
  }

  /** Registers the schedules at `commit` (default: the default branch's head), once a commit. */
  async refresh(commit?: string, model?: RepoModel, errors?: Diagnostic[]): Promise<void> {
    let head = commit;
    try {
      head ??= await this.o.models.headCommit();
    } catch (e) {
      this.o.logger.warn({ err: errorText(e) }, "no default branch yet: no schedules");
      return;
    }
    if (head === this.scheduledCommit) return;
    const loaded = model ? { model, errors: errors ?? [] } : await this.o.models.at(head);
    if (loaded.errors.length > 0) {
      // A broken push must not silently drop every schedule: keep the last good set.
      this.o.logger.warn({ commit: head }, "repository has errors: schedules unchanged");
      if (this.scheduledCommit !== undefined) return;
    }
    await this.scheduler.register(loaded.model.jobs.values());
    this.scheduledCommit = head;
    this.o.logger.info({ commit: head, schedules: this.scheduler.registered }, "schedules registered");
  }

  private async fireTick(tick: ScheduledTick): Promise<void> {
    if (this.o.stopping()) return;
    const id = `${tick.job}-${tick.drift ? "drift" : tick.index}-${tick.at.toISOString()}`;
    const answer = this.o.claims ? await this.o.claims.claim("schedule", id) : undefined;
    if (answer && answer.kind !== "won") {
      this.o.logger.info(
        { job: tick.job, tick: tick.at.toISOString(), replica: answer.replica },
        "another replica claimed this tick",
      );
      // Looked at again after the claim would expire: a replica that died with it does not lose the tick.
      if (answer.kind === "held") this.recheckAt(() => this.fireTick(tick), tick.job, answer.expiresAt);
      return;
    }
    await submitUnderClaim(
      answer,
      async () => {
        const item = await this.submitTick(
          tick,
          answer?.takenOverFrom,
          answer ? { kind: "schedule", id } : undefined,
        );
        return item ? [item] : [];
      },
      (items) => this.o.work.ended(items),
    );
  }

  /** No more rechecks of ticks other replicas hold (shutdown). */
  stop(): void {
    this.rechecks.stop();
  }

  private recheckAt(again: () => Promise<void>, job: string, expiresAt: Date): void {
    this.rechecks.at(expiresAt, () => {
      again().catch((e: unknown) =>
        this.o.logger.error({ job, err: errorText(e) }, "cannot take over the tick"),
      );
    });
  }

  private async submitTick(
    tick: ScheduledTick,
    takenOverFrom: string | undefined,
    claimed: WorkClaim | undefined,
  ): Promise<WorkItem | undefined> {
    const commit = this.scheduledCommit ?? (await this.o.models.headCommit());
    const { model } = await this.o.models.at(commit);
    const job = model.jobs.get(tick.job);
    if (!job) return undefined;
    return this.o.work.submit(
      job,
      commit,
      `refs/heads/${this.o.models.defaultBranch}`,
      {},
      {
        kind: "schedule",
        actor: "schedule",
        by: { name: "schedule", via: "schedule" },
        detail: {
          cron: tick.schedule.cron,
          timezone: tick.schedule.timezone,
          tick: tick.at.toISOString(),
          ...(tick.late ? { catchUp: tick.schedule.catchUp } : {}),
          // The executor checks the job for drift (app/detect-drift.ts) instead of running it.
          ...(tick.drift ? { drift: "true" } : {}),
          ...(takenOverFrom ? { takenOverFrom } : {}),
        },
      },
      claimed,
    );
  }

  private async missTick(tick: Omit<ScheduledTick, "late">): Promise<void> {
    const at = tick.at.toISOString();
    if (tick.drift) {
      // A drift check is owed nothing: the next tick checks the same hosts. Not an audit event.
      this.o.logger.info({ job: tick.job, tick: at }, "drift check tick missed");
      return;
    }
    // Every replica notices the same missed tick; one of them records it.
    const answer = this.o.claims
      ? await this.o.claims.claim("missed", `${tick.job}-${tick.index}-${at}`)
      : undefined;
    if (answer && answer.kind !== "won") {
      // The replica recording it may die first: looked at again once its claim would expire.
      if (answer.kind === "held" && !this.o.stopping())
        this.recheckAt(() => this.missTick(tick), tick.job, answer.expiresAt);
      return;
    }
    try {
      await this.recordMissedTick(tick, at);
    } finally {
      await answer?.done().catch(() => undefined);
    }
  }

  private async recordMissedTick(tick: Omit<ScheduledTick, "late">, at: string): Promise<void> {
    this.o.metrics.missedTicks.inc({ job: tick.job });
    this.o.logger.warn({ job: tick.job, tick: at, catchUp: tick.schedule.catchUp }, "schedule tick missed");
    const now = this.o.clock.now().toISOString();
    this.o.store.finish({
      id: `missed-${tick.job.replace(/\//g, "-")}-${tick.index}-${at.replace(/[:.]/g, "")}`,
      job: tick.job,
      commit: this.scheduledCommit ?? "",
      inputs: {},
      trigger: { kind: "schedule", actor: "schedule", detail: { cron: tick.schedule.cron, tick: at } },
      acceptedAt: now,
      finishedAt: now,
      status: "skipped",
      reason: `missed tick ${at} (catch-up: ${tick.schedule.catchUp})`,
    });
    try {
      const commit = this.scheduledCommit;
      const records = commit ? (await this.o.models.at(commit)).model.settings.records : undefined;
      await this.o.recordMissed?.({
        job: tick.job,
        cron: tick.schedule.cron,
        timezone: tick.schedule.timezone,
        at,
        catchUp: tick.schedule.catchUp,
        ...(commit ? { sourceCommit: commit } : {}),
        records: records ?? { branch: DEFAULT_RECORDS_BRANCH, push: true },
      });
    } catch (e) {
      this.o.logger.error(
        { job: tick.job, tick: at, err: errorText(e) },
        "cannot record the missed tick in the audit trail",
      );
    }
  }
}
