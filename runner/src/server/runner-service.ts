/**
 * The self-hosted runner's core, independent of HTTP: it turns deliveries,
 * hook calls, API requests and schedule ticks into journaled work items, claims
 * each one against other replicas, queues them by concurrency group and runs
 * them at their exact commit through the injected JobExecutor. The express
 * app (http-app.ts) only translates requests into these calls.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Diagnostic } from "../core/diagnostic.js";
import { userError } from "../core/errors.js";
import type { Trigger } from "../core/plan-model.js";
import type { JobDef, RepoModel, Settings } from "../core/repo-model.js";
import type { RunEvent } from "../core/run-events.js";
import { readRepoCommit } from "../git/read-tree.js";
import { buildPlan } from "../plan/build-plan.js";
import { DEFAULT_RECORDS_BRANCH } from "../repo/build-model.js";
import { readLibraries } from "../app/read-libraries.js";
import { loadRepo } from "../repo/load-repo.js";
import { resolvePush } from "../triggers/resolve-push.js";
import type { Claims } from "./claims.js";
import type { Clock } from "./clock.js";
import type { JobExecutor } from "./job-executor.js";
import type { RepoMirror } from "./repo-mirror.js";
import { RunQueue } from "./run-queue.js";
import type { MissedTickFacts } from "../records/missed-tick.js";
import { Scheduler, type ScheduledTick } from "./scheduler.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { InboxEntry, StateStore } from "./state-store.js";
import type { WorkItem } from "./work-item.js";

/** A missed tick as the scheduler reports it, with the records settings of the commit it was read at. */
export interface MissedTick extends MissedTickFacts {
  records: Settings["records"];
}

export interface RunnerServiceOptions {
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
  claims?: Claims;
  /** Decrypts a credential reference at a commit (the job's hook secret). */
  resolveSecret?: (commit: string, reference: string) => Promise<string | undefined>;
  /** Appends a missed tick to the audit trail. */
  recordMissed?: (tick: MissedTick) => Promise<void>;
  /** Records runs a crash cut off (records' recoverInterrupted), before any new run starts. */
  recover?: (records: Settings["records"]) => Promise<void>;
  /** Let node-cron wake the scheduler; tests call `tick()` with a manual clock. */
  useNodeCron?: boolean;
  toleranceMs?: number;
}

export interface Accepted {
  status: number;
  body: Record<string, unknown>;
}

const MODEL_CACHE = 8;

interface LoadedModel {
  model: RepoModel;
  errors: Diagnostic[];
  /** Credential reference -> decrypted hook secret, resolved when the model is loaded. */
  hookSecrets?: Map<string, Promise<string | undefined>>;
}

export class RunnerService {
  readonly queue: RunQueue;
  readonly scheduler: Scheduler;
  private readonly models = new Map<string, LoadedModel>();
  private inboxChain: Promise<void> = Promise.resolve();
  private scheduledCommit: string | undefined;
  private defaultBranch = "main";
  private started = false;
  stopping = false;

  constructor(private readonly o: RunnerServiceOptions) {
    this.queue = new RunQueue({
      limit: o.limit,
      execute: (item, signal) => this.execute(item, signal),
      onChange: (item) => this.changed(item),
      now: () => o.clock.now(),
    });
    this.scheduler = new Scheduler({
      clock: o.clock,
      load: () => o.store.readValue<Record<string, string>>("schedules"),
      save: (v) => o.store.writeValue("schedules", v),
      fire: (tick) => this.fireTick(tick),
      missed: (tick) => this.missTick(tick),
      useNodeCron: o.useNodeCron ?? false,
      ...(o.toleranceMs !== undefined ? { toleranceMs: o.toleranceMs } : {}),
      onError: (e) => o.logger.error({ err: errText(e) }, "scheduler failed"),
    });
  }

  get ready(): boolean {
    return this.started && !this.stopping;
  }

  /** Resumes journaled work, finishes pending deliveries, registers schedules. */
  async start(): Promise<void> {
    this.defaultBranch = await this.o.mirror.defaultBranch();
    if (this.o.recover) {
      try {
        const head = await this.o.mirror.branchHead(this.defaultBranch);
        await this.o.recover((await this.modelAt(head)).model.settings.records);
      } catch (e) {
        this.o.logger.error({ err: errText(e) }, "cannot record runs cut off by the last stop");
      }
    }
    for (const item of this.o.store.journaled()) {
      if (item.status === "running") {
        // Cut off mid-run: the records' crash journal records it as interrupted; running it again could repeat side effects.
        item.status = "failed";
        item.result = "interrupted";
        item.reason = "the runner stopped while this ran";
        item.finishedAt = this.o.clock.now().toISOString();
        this.o.store.finish(item);
        this.o.logger.warn({ job: item.job, item: item.id }, "run was cut off by a restart");
      } else {
        this.o.logger.info({ job: item.job, item: item.id }, "resuming journaled work");
        this.queue.enqueue(item);
      }
    }
    for (const entry of this.o.store.inbox()) this.processLater(entry);
    await this.refreshSchedules();
    this.started = true;
    await this.scheduler.reconcile();
  }

  /** Wake the scheduler (node-cron does this in production; tests after moving the clock). */
  tick(): Promise<void> {
    return this.scheduler.reconcile();
  }

  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.scheduler.stop();
    await this.inboxChain;
    await this.queue.shutdown(graceMs);
  }

  /** Every run this runner knows: queued and running first, then finished, newest first. */
  runs(limit = 100): WorkItem[] {
    return [...this.queue.items(), ...this.o.store.finished(limit)].slice(0, limit);
  }

  run(id: string): WorkItem | undefined {
    return this.runs(1000).find((i) => i.id === id || i.runId === id);
  }

  // ---- GitHub deliveries ----------------------------------------------------

  /** Called after the signature was verified. Answers at once; the work happens after. */
  acceptGithub(event: string, delivery: string, payload: Record<string, unknown>): Accepted {
    if (event === "ping") {
      this.o.metrics.deliveries.inc({ source: "github", outcome: "ping" });
      return { status: 200, body: { ok: true, zen: payload.zen ?? null } };
    }
    if (event !== "push" && event !== "repository_dispatch") {
      this.o.metrics.deliveries.inc({ source: "github", outcome: "ignored" });
      return { status: 202, body: { ignored: `event ${event} triggers nothing` } };
    }
    if (!delivery) throw userError("webhook.no-delivery", "X-GitHub-Delivery is missing");
    const key = `github-${delivery}`;
    if (!this.o.store.markDelivery(key)) {
      this.o.metrics.deliveries.inc({ source: "github", outcome: "duplicate" });
      this.o.logger.info({ delivery }, "delivery already processed");
      return { status: 200, body: { duplicate: true, delivery } };
    }
    const entry: InboxEntry = {
      key,
      delivery,
      event,
      receivedAt: this.o.clock.now().toISOString(),
      payload:
        event === "push"
          ? pick(payload, ["ref", "before", "after", "deleted"], {
              pusher: (payload.pusher as { name?: string })?.name ?? null,
            })
          : pick(payload, ["action", "branch", "client_payload"], {
              sender: (payload.sender as { login?: string })?.login ?? null,
            }),
    };
    try {
      this.o.store.saveInbox(entry);
    } catch (e) {
      // Not journaled, so not accepted: free the id so GitHub's redelivery is not taken for a duplicate.
      this.o.store.unmarkDelivery(key);
      throw e;
    }
    this.o.metrics.deliveries.inc({ source: "github", outcome: "accepted" });
    this.processLater(entry);
    return { status: 202, body: { accepted: true, delivery } };
  }

  /** Resolves when every accepted delivery has become work items (tests, shutdown). */
  settled(): Promise<void> {
    return this.inboxChain;
  }

  private processLater(entry: InboxEntry): void {
    this.inboxChain = this.inboxChain.then(async () => {
      const log = this.o.logger.child({ delivery: entry.delivery, event: entry.event });
      try {
        if (this.o.claims && !(await this.o.claims.claim("delivery", entry.delivery))) {
          log.info("another replica claimed this delivery");
          this.o.metrics.deliveries.inc({ source: "github", outcome: "claimed-elsewhere" });
        } else if (entry.event === "push") {
          await this.processPush(entry, log);
        } else {
          await this.processDispatch(entry, log);
        }
        this.o.store.removeInbox(entry.key);
      } catch (e) {
        // Left in the inbox: the next start tries again.
        log.error({ err: errText(e) }, "delivery could not be processed");
      }
    });
  }

  private async processPush(entry: InboxEntry, log: Logger): Promise<void> {
    const p = entry.payload as {
      ref?: string;
      before?: string;
      after?: string;
      deleted?: boolean;
      pusher?: string;
    };
    if (!p.ref || !p.after || p.deleted || /^0+$/.test(p.after)) {
      log.info({ ref: p.ref }, "branch deleted or nothing pushed: nothing to run");
      return;
    }
    await this.o.mirror.fetch();
    if (!(await this.o.mirror.hasCommit(p.after))) {
      throw userError("webhook.unknown-commit", `commit ${p.after} is not in the mirror after fetching`);
    }
    const r = await resolvePush(this.o.mirror.gitdir, {
      before: p.before ?? "0",
      after: p.after,
      ref: p.ref,
    });
    // The model resolvePush loaded serves the scheduler and later requests at this commit too.
    this.remember(r.commit, { model: r.model, errors: r.errors });
    if (r.errors.length > 0)
      log.warn({ commit: r.commit, errors: r.errors.slice(0, 5) }, "repository does not validate");
    if (p.ref === `refs/heads/${this.defaultBranch}`)
      await this.refreshSchedules(r.commit, r.model, r.errors);
    if (r.jobs.length === 0) log.info({ commit: r.commit, reason: r.reason }, "push runs no job");
    for (const job of r.jobs) {
      this.submit(
        job,
        r.commit,
        p.ref,
        {},
        {
          kind: "push",
          actor: p.pusher ? `github:${p.pusher}` : "github",
          detail: { delivery: entry.delivery, ref: p.ref, before: p.before ?? "", after: r.commit },
        },
      );
    }
  }

  private async processDispatch(entry: InboxEntry, log: Logger): Promise<void> {
    const p = entry.payload as {
      action?: string;
      branch?: string;
      client_payload?: unknown;
      sender?: string;
    };
    await this.o.mirror.fetch();
    const branch = p.branch || this.defaultBranch;
    const commit = await this.o.mirror.branchHead(branch);
    const { model } = await this.modelAt(commit);
    const type = p.action ?? "";
    const jobs = [...model.jobs.values()].filter((j) => j.on.webhook?.types.includes(type));
    if (jobs.length === 0) log.info({ type }, "no job accepts this repository_dispatch type");
    const inputs = isRecord(p.client_payload) ? p.client_payload : {};
    for (const job of jobs) {
      const problems = inputProblems(model, job.id, inputs, commit);
      const trigger: Trigger = {
        kind: "webhook",
        actor: p.sender ? `github:${p.sender}` : "github",
        detail: { delivery: entry.delivery, event: "repository_dispatch", type },
      };
      if (problems.length > 0) {
        log.warn({ job: job.id, problems }, "client_payload does not fit the job's inputs");
        this.refuse(job, commit, `refs/heads/${branch}`, inputs, trigger, problems.join("; "));
        continue;
      }
      this.submit(job, commit, `refs/heads/${branch}`, inputs, trigger);
    }
  }

  // ---- generic hooks and the API -------------------------------------------

  /**
   * The commit and job a hook call or API request runs: the default branch's
   * head in the mirror, fetched first so it is never stale.
   */
  async jobAtHead(
    jobId: string,
    fetch = true,
  ): Promise<{ job: JobDef; commit: string; ref: string; model: RepoModel }> {
    if (fetch) await this.o.mirror.fetch();
    const commit = await this.o.mirror.branchHead(this.defaultBranch);
    const { model } = await this.modelAt(commit);
    const job = model.jobs.get(jobId);
    if (!job) throw userError("api.unknown-job", `there is no job "${jobId}" at ${commit.slice(0, 12)}`);
    return { job, commit, ref: `refs/heads/${this.defaultBranch}`, model };
  }

  /**
   * The job's hook secret, decrypted; undefined when the job accepts no hook.
   * Decrypted once per commit, when its model is loaded: a stream of unsigned
   * calls must not make the runner decrypt anything.
   */
  async hookSecret(job: JobDef, commit: string): Promise<string | undefined> {
    const ref = job.on.webhook?.secret;
    if (!ref || !this.o.resolveSecret) return undefined;
    const cache = this.models.get(commit)?.hookSecrets;
    if (!cache) return this.o.resolveSecret(commit, ref);
    let secret = cache.get(ref);
    if (!secret) cache.set(ref, (secret = this.o.resolveSecret(commit, ref)));
    return secret;
  }

  /** Validates inputs through the planner, then queues. Throws a user error listing the problems. */
  acceptRun(
    target: { job: JobDef; commit: string; ref: string; model: RepoModel },
    inputs: Record<string, unknown>,
    trigger: Trigger,
    dedupeKey?: string,
  ): Accepted {
    const problems = inputProblems(target.model, target.job.id, inputs, target.commit);
    if (problems.length > 0) {
      this.o.metrics.deliveries.inc({ source: trigger.kind, outcome: "invalid" });
      throw userError("api.invalid-inputs", problems.join("; "));
    }
    if (dedupeKey !== undefined && !this.o.store.markDelivery(dedupeKey)) {
      this.o.metrics.deliveries.inc({ source: trigger.kind, outcome: "duplicate" });
      return { status: 200, body: { duplicate: true } };
    }
    this.o.metrics.deliveries.inc({ source: trigger.kind, outcome: "accepted" });
    const item = this.submit(target.job, target.commit, target.ref, inputs, trigger);
    return {
      status: 202,
      body: { id: item.id, status: item.status, commit: target.commit, ...reasonOf(item) },
    };
  }

  // ---- schedules ------------------------------------------------------------

  private async refreshSchedules(commit?: string, model?: RepoModel, errors?: Diagnostic[]): Promise<void> {
    let head = commit;
    try {
      head ??= await this.o.mirror.branchHead(this.defaultBranch);
    } catch (e) {
      this.o.logger.warn({ err: errText(e) }, "no default branch yet: no schedules");
      return;
    }
    if (head === this.scheduledCommit) return;
    const loaded = model ? { model, errors: errors ?? [] } : await this.modelAt(head);
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
    if (this.stopping) return;
    const id = `${tick.job}-${tick.index}-${tick.at.toISOString()}`;
    if (this.o.claims && !(await this.o.claims.claim("schedule", id))) {
      this.o.logger.info({ job: tick.job, tick: tick.at.toISOString() }, "another replica claimed this tick");
      return;
    }
    const commit = this.scheduledCommit ?? (await this.o.mirror.branchHead(this.defaultBranch));
    const { model } = await this.modelAt(commit);
    const job = model.jobs.get(tick.job);
    if (!job) return;
    this.submit(
      job,
      commit,
      `refs/heads/${this.defaultBranch}`,
      {},
      {
        kind: "schedule",
        actor: "schedule",
        detail: {
          cron: tick.schedule.cron,
          timezone: tick.schedule.timezone,
          tick: tick.at.toISOString(),
          ...(tick.late ? { catchUp: tick.schedule.catchUp } : {}),
        },
      },
    );
  }

  private async missTick(tick: Omit<ScheduledTick, "late">): Promise<void> {
    const at = tick.at.toISOString();
    // Every replica notices the same missed tick; one of them records it.
    if (this.o.claims && !(await this.o.claims.claim("missed", `${tick.job}-${tick.index}-${at}`))) return;
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
      const records = commit ? (await this.modelAt(commit)).model.settings.records : undefined;
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
        { job: tick.job, tick: at, err: errText(e) },
        "cannot record the missed tick in the audit trail",
      );
    }
  }

  // ---- running ----------------------------------------------------------------

  private submit(
    job: JobDef,
    commit: string,
    ref: string,
    inputs: Record<string, unknown>,
    trigger: Trigger,
  ): WorkItem {
    const item = this.newItem(job, commit, ref, inputs, trigger);
    // Journal before queueing: from here a restart resumes it.
    this.o.store.save(item);
    this.o.logger.info({ job: job.id, item: item.id, commit, trigger: trigger.kind }, "work accepted");
    return this.queue.enqueue(item);
  }

  private refuse(
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

  private changed(item: WorkItem): void {
    if (item.status === "queued" || item.status === "running") this.o.store.save(item);
    else this.o.store.finish(item);
    if (item.status === "skipped" || item.status === "cancelled") {
      this.o.logger.info({ job: item.job, item: item.id, reason: item.reason }, `work ${item.status}`);
    }
    this.o.metrics.queueDepth.set(this.queue.depth);
    this.o.metrics.running.set(this.queue.active);
  }

  private async execute(item: WorkItem, signal: AbortSignal): Promise<void> {
    let log = this.o.logger.child({ job: item.job, item: item.id });
    const onEvent = (event: RunEvent): void => {
      this.o.metrics.observe(item.job, event);
      if (event.type === "run.started") {
        item.runId = event.runId;
        log = log.child({ runId: event.runId });
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
    try {
      const { summary } = await this.o.executor({
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
      });
      item.runId = summary.id;
      item.result = summary.result;
      if (summary.result === "cancelled" || summary.result === "interrupted") item.status = "cancelled";
      this.o.metrics.runs.inc({ job: item.job, result: summary.result });
      log.child({ runId: summary.id }).info({ result: summary.result }, "run finished");
    } catch (e) {
      this.o.metrics.runs.inc({ job: item.job, result: "error" });
      log.error({ err: errText(e) }, "run could not start or finish");
      throw e;
    }
  }

  private async modelAt(commit: string): Promise<{ model: RepoModel; errors: Diagnostic[] }> {
    let hit = this.models.get(commit);
    if (!hit) {
      const files = await readRepoCommit(this.o.mirror.gitdir, commit);
      const { model, diagnostics } = loadRepo(files, await readLibraries(files));
      hit = { model, errors: diagnostics.filter((d) => d.severity === "error") };
      this.remember(commit, hit);
    }
    return hit;
  }

  private remember(commit: string, loaded: LoadedModel): void {
    this.models.set(commit, { ...loaded, hookSecrets: new Map() });
    if (this.models.size > MODEL_CACHE) this.models.delete(this.models.keys().next().value!);
    for (const job of loaded.model.jobs.values()) {
      // A failure is the hook call's to report; here it only must not go unhandled.
      if (job.on.webhook?.secret) this.hookSecret(job, commit).catch(() => undefined);
    }
  }
}

/** The planner is the one judge of inputs: the same rules as `opsc plan` and `opsc run`. */
function inputProblems(
  model: RepoModel,
  job: string,
  inputs: Record<string, unknown>,
  commit: string,
): string[] {
  const { diagnostics } = buildPlan(model, {
    job,
    inputs,
    trigger: { kind: "api", actor: "validation" },
    commit,
  });
  return diagnostics
    .filter((d) => d.severity === "error" && d.code.includes("input"))
    .map((d) => `${d.message}${d.hint ? ` (${d.hint})` : ""}`);
}

function pick(
  o: Record<string, unknown>,
  keys: string[],
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return { ...out, ...extra };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function reasonOf(item: WorkItem): Record<string, string> {
  return item.reason ? { reason: item.reason } : {};
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
