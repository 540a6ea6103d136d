/**
 * The self-hosted runner's core, independent of HTTP: it turns deliveries,
 * hook calls, API requests and schedule ticks into journaled work items, claims
 * each one against other replicas, queues them by concurrency group and runs
 * them at their exact commit through the injected JobExecutor. The express
 * app (http-app.ts) only translates requests into these calls.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Diagnostic } from "../core/diagnostic.js";
import type { RepoFiles } from "../repo/repo-files.js";
import type { AccessPolicy } from "../core/access-policy.js";
import { errorText } from "../core/error-text.js";
import { isOpscError, userError } from "../core/errors.js";
import { isRecord } from "../core/is-record.js";
import type { Trigger } from "../core/plan-model.js";
import type { JobDef, RepoModel, Settings } from "../core/repo-model.js";
import type { RunEvent } from "../core/run-events.js";
import { buildPlan } from "../plan/build-plan.js";
import { DEFAULT_RECORDS_BRANCH } from "../repo/build-model.js";
import { readLibraries } from "../app/read-libraries.js";
import { ACCESS_FILE, loadRepo } from "../repo/load-repo.js";
import { branchOf } from "../triggers/match-push.js";
import { resolvePush, type PushResolution } from "../app/resolve-push.js";
import type { Claims } from "../git/claims.js";
import type { Clock } from "./clock.js";
import type { JobExecutor } from "./job-executor.js";
import type { RepoMirror } from "../git/repo-mirror.js";
import { RunEventsHub } from "./run-events-hub.js";
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

/** The fields of a push delivery (GitHub, GitLab, Gitea) this runner reads. */
interface PushPayload {
  ref?: string;
  before?: string;
  after?: string;
  deleted?: boolean;
  pusher?: string;
  forge?: "gitlab" | "gitea";
}

export class RunnerService {
  readonly queue: RunQueue;
  readonly scheduler: Scheduler;
  /** Events of the runs running here, for `GET /api/runs/:id/events`. */
  readonly events = new RunEventsHub();
  private readonly models = new Map<string, { model: RepoModel; errors: Diagnostic[]; files?: RepoFiles }>();
  /** Hook secrets by commit, then by job: decrypted once a commit, never because of an unsigned request (see mirrorFetched). */
  private readonly hookSecrets = new Map<string, Promise<Map<string, HookSecret>>>();
  private inboxChain: Promise<void> = Promise.resolve();
  private scheduledCommit: string | undefined;
  private defaultBranch = "main";
  private goodAccess: { commit: string; policy: AccessPolicy | undefined } | undefined;
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
      onError: (e) => o.logger.error({ err: errorText(e) }, "scheduler failed"),
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
        this.o.logger.error({ err: errorText(e) }, "cannot record runs cut off by the last stop");
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
    await this.prepareHooks();
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

  /** The mirror's work tree (records are committed there). */
  get repoDir(): string {
    return this.o.mirror.repoDir;
  }

  /** The model at the default branch's head in the mirror, without fetching (read-only pages). */
  async headModel(): Promise<{ commit: string; model: RepoModel; errors: Diagnostic[] }> {
    const commit = await this.o.mirror.branchHead(this.defaultBranch);
    return { commit, ...(await this.modelAt(commit)) };
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
    // A replayed push under a new delivery id is still the same push: dedupe on what was pushed too.
    const pushKey = event === "push" ? pushKeyOf(payload) : undefined;
    if (pushKey !== undefined && !this.o.store.markDelivery(pushKey)) {
      this.o.metrics.deliveries.inc({ source: "github", outcome: "duplicate" });
      this.o.logger.info({ delivery }, "this push was already delivered under another delivery id");
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
              ...(pushKey !== undefined ? { pushKey } : {}),
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
      if (pushKey !== undefined) this.o.store.unmarkDelivery(pushKey);
      throw e;
    }
    this.o.metrics.deliveries.inc({ source: "github", outcome: "accepted" });
    this.processLater(entry);
    return { status: 202, body: { accepted: true, delivery } };
  }

  /** A push from GitLab or Gitea, after its token or signature was checked. */
  acceptForgePush(
    forge: "gitlab" | "gitea",
    delivery: string,
    push: {
      ref?: string | undefined;
      before?: string | undefined;
      after?: string | undefined;
      pusher?: string | undefined;
    },
  ): Accepted {
    const key = `${forge}-${delivery}`;
    if (!this.o.store.markDelivery(key)) {
      this.o.metrics.deliveries.inc({ source: forge, outcome: "duplicate" });
      return { status: 200, body: { duplicate: true, delivery } };
    }
    const entry: InboxEntry = {
      key,
      delivery,
      event: "push",
      receivedAt: this.o.clock.now().toISOString(),
      payload: {
        ref: push.ref,
        before: push.before,
        after: push.after,
        // A push that deletes a branch has an all-zero `after`, which processPush skips.
        pusher: push.pusher ?? null,
        forge,
      },
    };
    try {
      this.o.store.saveInbox(entry);
    } catch (e) {
      this.o.store.unmarkDelivery(key);
      throw e;
    }
    this.o.metrics.deliveries.inc({ source: forge, outcome: "accepted" });
    this.processLater(entry);
    return { status: 202, body: { accepted: true, delivery } };
  }

  /**
   * The access policy at the head of the default branch in the mirror. When
   * access.yaml there does not validate, the last good policy stays in force.
   */
  async accessPolicy(): Promise<AccessPolicy | undefined> {
    const head = await this.o.mirror.branchHead(this.defaultBranch);
    if (this.goodAccess?.commit === head) return this.goodAccess.policy;
    const { model, errors } = await this.modelAt(head);
    if (errors.some((d) => d.file === ACCESS_FILE)) {
      this.o.logger.warn(
        { commit: head, errors: errors.filter((d) => d.file === ACCESS_FILE).slice(0, 5) },
        "access.yaml does not validate: the last good policy stays in force",
      );
      // No good policy yet: nobody but the bootstrap token gets in.
      return this.goodAccess?.policy ?? { roles: new Map(), members: [] };
    }
    this.goodAccess = { commit: head, policy: model.access };
    return model.access;
  }

  /** Settings at the default branch's head (where records of access events go). */
  async headSettings(): Promise<Settings> {
    return (await this.modelAt(await this.o.mirror.branchHead(this.defaultBranch))).model.settings;
  }

  /** Resolves when every accepted delivery has become work items (tests, shutdown). */
  settled(): Promise<void> {
    return this.inboxChain;
  }

  private processLater(entry: InboxEntry): void {
    this.inboxChain = this.inboxChain.then(async () => {
      const log = this.o.logger.child({ delivery: entry.delivery, event: entry.event });
      try {
        // Replicas may each accept the same push under different delivery ids: claim the push itself.
        const pushKey = typeof entry.payload.pushKey === "string" ? entry.payload.pushKey : undefined;
        const claim = pushKey !== undefined ? claimIdOf(pushKey) : entry.delivery;
        // A push's claim and fetch are two round trips to the remote: they
        // overlap, and the pushed commit is read meanwhile. Nothing is acted on
        // (logged, cached, scheduled, run) before the claim is won.
        const fetched = entry.event === "push" ? this.fetchPush(entry) : undefined;
        fetched?.catch(() => undefined);
        if (this.o.claims && !(await this.o.claims.claim(pushKey ? "push" : "delivery", claim))) {
          await fetched?.catch(() => undefined);
          log.info("another replica claimed this delivery");
          this.o.metrics.deliveries.inc({ source: "github", outcome: "claimed-elsewhere" });
        } else if (fetched) {
          await this.processPush(entry, log, await fetched);
        } else {
          await this.processDispatch(entry, log);
        }
        this.o.store.removeInbox(entry.key);
      } catch (e) {
        if (isOpscError(e) && e.kind === "user") {
          // Trying again gives the same answer: drop it, saying why.
          log.warn({ err: errorText(e), code: e.code }, "delivery dropped");
          this.o.store.removeInbox(entry.key);
        } else {
          // Left in the inbox: the next start tries again.
          log.error({ err: errorText(e) }, "delivery could not be processed; the next start tries again");
        }
      }
    });
  }

  /**
   * Fetches a push delivery's commit and resolves the jobs it runs: undefined
   * when nothing was pushed, "not-a-branch" for a tag (the mirror holds
   * branches only, and only branch pushes select jobs).
   */
  private async fetchPush(entry: InboxEntry): Promise<PushResolution | "nothing" | "not-a-branch"> {
    const p = entry.payload as PushPayload;
    if (!p.ref || !p.after || p.deleted || /^0+$/.test(p.after)) return "nothing";
    if (branchOf(p.ref) === undefined) return "not-a-branch";
    await this.mirrorFetched();
    if (!(await this.o.mirror.hasCommit(p.after))) {
      throw userError("webhook.unknown-commit", `commit ${p.after} is not in the mirror after fetching`);
    }
    return resolvePush(this.o.mirror.repository, { before: p.before ?? "0", after: p.after, ref: p.ref });
  }

  private async processPush(
    entry: InboxEntry,
    log: Logger,
    r: PushResolution | "nothing" | "not-a-branch",
  ): Promise<void> {
    const p = entry.payload as PushPayload;
    if (r === "nothing" || !p.ref) {
      log.info({ ref: p.ref }, "branch deleted or nothing pushed: nothing to run");
      return;
    }
    if (r === "not-a-branch") {
      log.warn({ ref: p.ref, after: p.after }, "push dropped: only pushes to branches run jobs");
      return;
    }
    // The model resolvePush loaded serves the scheduler and later requests at this commit too.
    this.remember(r.commit, { model: r.model, errors: r.errors, files: r.files });
    if (r.errors.length > 0)
      log.warn({ commit: r.commit, errors: r.errors.slice(0, 5) }, "repository does not validate");
    if (r.jobs.length === 0) log.info({ commit: r.commit, reason: r.reason }, "push runs no job");
    for (const job of r.jobs) {
      this.submit(
        job,
        r.commit,
        p.ref,
        {},
        {
          kind: "push",
          actor: p.pusher ? `${p.forge ?? "github"}:${p.pusher}` : (p.forge ?? "github"),
          by: { name: p.pusher ?? "unknown", via: p.forge ?? "github" },
          detail: { delivery: entry.delivery, ref: p.ref, before: p.before ?? "", after: r.commit },
        },
      );
    }
    // After the jobs are queued: a push's runs do not wait for the scheduler.
    if (p.ref === `refs/heads/${this.defaultBranch}`)
      await this.refreshSchedules(r.commit, r.model, r.errors);
  }

  private async processDispatch(entry: InboxEntry, log: Logger): Promise<void> {
    const p = entry.payload as {
      action?: string;
      branch?: string;
      client_payload?: unknown;
      sender?: string;
    };
    await this.mirrorFetched();
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
        by: { name: p.sender ?? "unknown", via: "github" },
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
    if (fetch) await this.mirrorFetched();
    const commit = await this.o.mirror.branchHead(this.defaultBranch);
    const { model } = await this.modelAt(commit);
    const job = model.jobs.get(jobId);
    if (!job) throw userError("api.unknown-job", `there is no job "${jobId}" at ${commit.slice(0, 12)}`);
    return { job, commit, ref: `refs/heads/${this.defaultBranch}`, model };
  }

  /**
   * The hook secret of a job at the default branch's head, without fetching.
   * Answers why not (for the log, never for the caller) when the job is
   * unknown, takes no hook, or the repository does not validate there.
   */
  async hookSecretAtHead(jobId: string): Promise<HookSecret> {
    try {
      const commit = await this.o.mirror.branchHead(this.defaultBranch);
      const secrets = await this.hookSecretsAt(commit);
      return secrets.get(jobId) ?? { reason: `there is no job "${jobId}" at ${commit}` };
    } catch (e) {
      return { reason: errorText(e) };
    }
  }

  /** Fetches, then decrypts the new head's hook secrets, so an unsigned hook call never causes a decryption. */
  private async mirrorFetched(): Promise<void> {
    await this.o.mirror.fetch();
    await this.prepareHooks();
  }

  private async prepareHooks(): Promise<void> {
    try {
      await this.hookSecretsAt(await this.o.mirror.branchHead(this.defaultBranch));
    } catch (e) {
      this.o.logger.warn({ err: errorText(e) }, "cannot read the hook secrets at the default branch's head");
    }
  }

  private hookSecretsAt(commit: string): Promise<Map<string, HookSecret>> {
    let secrets = this.hookSecrets.get(commit);
    if (!secrets) {
      secrets = this.readHookSecrets(commit);
      this.hookSecrets.set(commit, secrets);
      if (this.hookSecrets.size > MODEL_CACHE) this.hookSecrets.delete(this.hookSecrets.keys().next().value!);
      secrets.catch(() => this.hookSecrets.delete(commit));
    }
    return secrets;
  }

  private async readHookSecrets(commit: string): Promise<Map<string, HookSecret>> {
    const { model, errors } = await this.modelAt(commit);
    const out = new Map<string, HookSecret>();
    for (const job of model.jobs.values()) {
      const ref = job.on.webhook?.secret;
      if (!ref || !this.o.resolveSecret) {
        out.set(job.id, { reason: `job "${job.id}" takes no webhook (set on.webhook.secret)` });
      } else if (errors.length > 0) {
        // Nothing is decrypted from a repository that does not validate (an alias bomb in a credentials file, say).
        out.set(job.id, { reason: `the repository does not validate at ${commit}` });
      } else {
        try {
          const secret = await this.o.resolveSecret(commit, ref);
          out.set(job.id, secret ? { secret } : { reason: `${ref} is empty` });
        } catch (e) {
          out.set(job.id, { reason: `cannot decrypt ${ref}: ${errorText(e)}` });
        }
      }
    }
    if (errors.length > 0 && [...model.jobs.values()].some((j) => j.on.webhook?.secret))
      this.o.logger.warn(
        { commit, errors: errors.slice(0, 5) },
        "repository does not validate: hooks refused",
      );
    return out;
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
      this.o.logger.warn({ err: errorText(e) }, "no default branch yet: no schedules");
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
        by: { name: "schedule", via: "schedule" },
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
        { job: tick.job, tick: at, err: errorText(e) },
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
    else {
      this.o.store.finish(item);
      this.events.end(item.id);
    }
    if (item.status === "skipped" || item.status === "cancelled") {
      this.o.logger.info({ job: item.job, item: item.id, reason: item.reason }, `work ${item.status}`);
    }
    this.o.metrics.queueDepth.set(this.queue.depth);
    this.o.metrics.running.set(this.queue.active);
  }

  private async execute(item: WorkItem, signal: AbortSignal): Promise<void> {
    let log = this.o.logger.child({ job: item.job, item: item.id });
    this.events.begin(item.id);
    let startedLogged = false;
    const onEvent = (event: RunEvent): void => {
      this.events.publish(item.id, event);
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
    const known = this.models.get(item.commit);
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
      this.events.end(item.id);
    }
  }

  private async modelAt(commit: string): Promise<{ model: RepoModel; errors: Diagnostic[] }> {
    let hit = this.models.get(commit);
    if (!hit) {
      const files = await this.o.mirror.repository.readFiles(commit);
      const { model, diagnostics } = loadRepo(files, await readLibraries(files));
      hit = { model, errors: diagnostics.filter((d) => d.severity === "error") };
      this.remember(commit, hit);
    }
    return hit;
  }

  private remember(
    commit: string,
    loaded: { model: RepoModel; errors: Diagnostic[]; files?: RepoFiles },
  ): void {
    this.models.set(commit, loaded);
    if (this.models.size > MODEL_CACHE) this.models.delete(this.models.keys().next().value!);
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

/** What a hook call is checked against: the secret, or why there is none. */
export type HookSecret = { secret: string } | { reason: string };

/** A push key fits a ref name once hashed (it holds slashes and can be long). */
function claimIdOf(pushKey: string): string {
  return createHash("sha256").update(pushKey).digest("hex").slice(0, 40);
}

/** The identity of a push, whatever delivery carries it. */
function pushKeyOf(payload: Record<string, unknown>): string | undefined {
  const repo = (payload.repository as { full_name?: unknown } | undefined)?.full_name;
  const { ref, before, after } = payload;
  if (typeof ref !== "string" || typeof after !== "string") return undefined;
  return `push-${String(repo ?? "")}-${ref}-${String(before ?? "")}-${after}`;
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

function reasonOf(item: WorkItem): Record<string, string> {
  return item.reason ? { reason: item.reason } : {};
}
