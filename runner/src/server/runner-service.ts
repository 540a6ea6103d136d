/**
 * The self-hosted runner's core, independent of HTTP: it turns deliveries,
 * hook calls, API requests and schedule ticks into journaled work items, claims
 * each one against other replicas, queues them by concurrency group and runs
 * them at their exact commit through the injected JobExecutor. The express
 * app (http-app.ts) only translates requests into these calls.
 *
 * This class is the facade; each job lives in its own file: the delivery inbox
 * (delivery-inbox.ts), hook and API acceptance (hook-acceptance.ts), schedules
 * and missed ticks (job-schedules.ts), the work-item lifecycle (work-items.ts)
 * and the model cache (model-cache.ts).
 */
import type { AccessPolicy } from "../core/access-policy.js";
import { errorText } from "../core/error-text.js";
import type { Trigger } from "../core/plan-model.js";
import type { Diagnostic } from "../core/diagnostic.js";
import type { RepoModel, Settings } from "../core/repo-model.js";
import type { Claims } from "../git/claims.js";
import { DeliveryInbox, type ForgePush } from "./delivery-inbox.js";
import { HookAcceptance, type Accepted, type HookSecret, type JobAtCommit } from "./hook-acceptance.js";
import { JobSchedules, type MissedTick } from "./job-schedules.js";
import { ModelCache } from "./model-cache.js";
import { RunEventsHub } from "./run-events-hub.js";
import type { RunQueue } from "./run-queue.js";
import type { Scheduler } from "./scheduler.js";
import type { WorkItem } from "./work-item.js";
import { WorkItems, type WorkItemsOptions } from "./work-items.js";

export type { Accepted, HookSecret, JobAtCommit, MissedTick };

/** The work queue's options (WorkItemsOptions) but the parts the service makes itself, and the rest. */
export interface RunnerServiceOptions extends Omit<WorkItemsOptions, "events" | "models"> {
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

export class RunnerService {
  readonly queue: RunQueue;
  readonly scheduler: Scheduler;
  /** Events of the runs running here, for `GET /api/runs/:id/events`. */
  readonly events = new RunEventsHub();
  private readonly models: ModelCache;
  private readonly work: WorkItems;
  private readonly hooks: HookAcceptance;
  private readonly schedules: JobSchedules;
  private readonly inbox: DeliveryInbox;
  private started = false;
  stopping = false;

  constructor(private readonly o: RunnerServiceOptions) {
    this.models = new ModelCache({ mirror: o.mirror, logger: o.logger });
    this.work = new WorkItems({ ...o, events: this.events, models: this.models });
    this.queue = this.work.queue;
    this.hooks = new HookAcceptance({ ...o, models: this.models, work: this.work });
    this.schedules = new JobSchedules({
      ...o,
      models: this.models,
      work: this.work,
      stopping: () => this.stopping,
    });
    this.scheduler = this.schedules.scheduler;
    this.inbox = new DeliveryInbox({
      ...o,
      models: this.models,
      work: this.work,
      hooks: this.hooks,
      schedules: this.schedules,
    });
  }

  get ready(): boolean {
    return this.started && !this.stopping;
  }

  /** Resumes journaled work, finishes pending deliveries, registers schedules. */
  async start(): Promise<void> {
    await this.models.loadDefaultBranch();
    if (this.o.recover) {
      try {
        await this.o.recover((await this.models.headSettings()).records);
      } catch (e) {
        this.o.logger.error({ err: errorText(e) }, "cannot record runs cut off by the last stop");
      }
    }
    await this.work.resume();
    this.inbox.resume();
    await this.schedules.refresh();
    await this.hooks.prepareHooks();
    this.started = true;
    await this.scheduler.reconcile();
  }

  /** Wake the scheduler (node-cron does this in production; tests after moving the clock). */
  tick(): Promise<void> {
    return this.scheduler.reconcile();
  }

  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.schedules.stop();
    this.inbox.stop();
    this.work.stop();
    await this.scheduler.stop();
    await this.inbox.settled();
    await this.queue.shutdown(graceMs);
  }

  /** Every run this runner knows: queued and running first, then finished, newest first. */
  runs(limit = 100): WorkItem[] {
    return this.work.runs(limit);
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
    const commit = await this.models.headCommit();
    const { model, errors } = await this.models.at(commit);
    return { commit, model, errors };
  }

  /** A GitHub delivery, called after the signature was verified. Answers at once; the work happens after. */
  acceptGithub(event: string, delivery: string, payload: Record<string, unknown>): Accepted {
    return this.inbox.acceptGithub(event, delivery, payload);
  }

  /** A push from GitLab or Gitea, after its token or signature was checked. */
  acceptForgePush(forge: "gitlab" | "gitea", delivery: string, push: ForgePush): Accepted {
    return this.inbox.acceptForgePush(forge, delivery, push);
  }

  /** Resolves when every accepted delivery has become work items (tests, shutdown). */
  settled(): Promise<void> {
    return this.inbox.settled();
  }

  /** The access policy at the default branch's head; the last good one while access.yaml there does not validate. */
  accessPolicy(): Promise<AccessPolicy | undefined> {
    return this.models.accessPolicy();
  }

  /** Settings at the default branch's head (where records of access events go). */
  headSettings(): Promise<Settings> {
    return this.models.headSettings();
  }

  /** The job a hook call or API request runs, at the default branch's head (fetched first unless told not to). */
  jobAtHead(jobId: string, fetch = true): Promise<JobAtCommit> {
    return this.hooks.jobAtHead(jobId, fetch);
  }

  /** The hook secret of a job at the default branch's head, or why there is none (for the log). */
  hookSecretAtHead(jobId: string): Promise<HookSecret> {
    return this.hooks.hookSecretAtHead(jobId);
  }

  /** Validates inputs through the planner, then queues. Throws a user error listing the problems. */
  acceptRun(
    target: JobAtCommit,
    inputs: Record<string, unknown>,
    trigger: Trigger,
    dedupeKey?: string,
  ): Accepted {
    return this.hooks.acceptRun(target, inputs, trigger, dedupeKey);
  }
}
