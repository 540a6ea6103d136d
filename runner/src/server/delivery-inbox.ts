/**
 * The delivery inbox: a webhook delivery (GitHub, GitLab, Gitea) is
 * deduplicated and journaled before it is answered, then processed in order
 * after the answer: claimed against other replicas, the pushed commit fetched,
 * the jobs it runs resolved and submitted as work items.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { errorText } from "../core/error-text.js";
import { isOpscError, userError } from "../core/errors.js";
import { isRecord } from "../core/is-record.js";
import type { Trigger } from "../core/plan-model.js";
import { resolvePush, type PushResolution } from "../app/resolve-push.js";
import type { Claims } from "../git/claims.js";
import { ClaimRechecks } from "./claim-rechecks.js";
import { submitUnderClaim } from "./claimed-work.js";
import type { RepoMirror } from "../git/repo-mirror.js";
import { branchOf } from "../core/branch-of.js";
import type { Clock } from "./clock.js";
import { inputProblems, type Accepted, type HookAcceptance } from "./hook-acceptance.js";
import type { JobSchedules } from "./job-schedules.js";
import type { ModelCache } from "./model-cache.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { InboxEntry, StateStore } from "./state-store.js";
import type { WorkClaim, WorkItem } from "./work-item.js";
import type { WorkItems } from "./work-items.js";

export interface DeliveryInboxOptions {
  store: StateStore;
  mirror: RepoMirror;
  models: ModelCache;
  work: WorkItems;
  hooks: HookAcceptance;
  schedules: JobSchedules;
  logger: Logger;
  metrics: ServerMetrics;
  clock: Clock;
  claims?: Claims | undefined;
}

/** The fields of a push delivery (GitHub, GitLab, Gitea) this runner reads. */
interface PushPayload {
  ref?: string;
  before?: string;
  after?: string;
  deleted?: boolean;
  pusher?: string;
  forge?: "gitlab" | "gitea";
}

/** What the server reads of a GitLab or Gitea push event. */
export interface ForgePush {
  ref?: string | undefined;
  before?: string | undefined;
  after?: string | undefined;
  pusher?: string | undefined;
}

export class DeliveryInbox {
  private chain: Promise<void> = Promise.resolve();
  /** Deliveries other replicas hold, looked at again when their claims would expire. */
  private readonly rechecks = new ClaimRechecks();

  constructor(private readonly o: DeliveryInboxOptions) {}

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
  acceptForgePush(forge: "gitlab" | "gitea", delivery: string, push: ForgePush): Accepted {
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

  /** Resolves when every accepted delivery has become work items (tests, shutdown). */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Processes what a previous process accepted but did not finish. */
  resume(): void {
    for (const entry of this.o.store.inbox()) this.processLater(entry);
  }

  /** No more rechecks of deliveries other replicas hold (shutdown). */
  stop(): void {
    this.rechecks.stop();
  }

  private processLater(entry: InboxEntry): void {
    this.chain = this.chain.then(async () => {
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
        const answer = this.o.claims
          ? await this.o.claims.claim(pushKey ? "push" : "delivery", claim)
          : undefined;
        if (answer && answer.kind !== "won") {
          await fetched?.catch(() => undefined);
          this.o.metrics.deliveries.inc({ source: "github", outcome: "claimed-elsewhere" });
          if (answer.kind === "held") {
            // Kept in the inbox: if that replica dies, its claim expires and this one takes the work over.
            log.info(
              { replica: answer.replica, expiresAt: answer.expiresAt },
              "another replica claimed this delivery",
            );
            this.rechecks.at(answer.expiresAt, () => this.processLater(entry));
            return;
          }
          log.info({ replica: answer.replica }, "another replica ran this delivery");
        } else {
          const takenOverFrom = answer?.takenOverFrom;
          if (takenOverFrom) log.warn({ from: takenOverFrom }, "took over a delivery whose claim expired");
          const claimed: WorkClaim | undefined = answer
            ? { kind: pushKey ? "push" : "delivery", id: claim }
            : undefined;
          await submitUnderClaim(
            answer,
            async () =>
              fetched
                ? this.processPush(entry, log, await fetched, takenOverFrom, claimed)
                : this.processDispatch(entry, log, takenOverFrom, claimed),
            (items) => this.o.work.ended(items),
          );
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
    await this.o.mirror.fetch();
    // The new head's hook secrets are prepared meanwhile; on a push to the
    // default branch both read the same commit, which the model cache loads once.
    const hooks = this.o.hooks.prepareHooks();
    try {
      if (!(await this.o.mirror.hasCommit(p.after))) {
        throw userError("webhook.unknown-commit", `commit ${p.after} is not in the mirror after fetching`);
      }
      const request = { before: p.before ?? "0", after: p.after, ref: p.ref };
      return await resolvePush(this.o.mirror.repository, request, this.o.models.at(p.after));
    } finally {
      await hooks;
    }
  }

  private async processPush(
    entry: InboxEntry,
    log: Logger,
    r: PushResolution | "nothing" | "not-a-branch",
    takenOverFrom?: string,
    claimed?: WorkClaim,
  ): Promise<WorkItem[]> {
    const p = entry.payload as PushPayload;
    if (r === "nothing" || !p.ref) {
      log.info({ ref: p.ref }, "branch deleted or nothing pushed: nothing to run");
      return [];
    }
    if (r === "not-a-branch") {
      log.warn({ ref: p.ref, after: p.after }, "push dropped: only pushes to branches run jobs");
      return [];
    }
    const items: WorkItem[] = [];
    // The model resolvePush loaded serves the scheduler and later requests at this commit too.
    this.o.models.remember(r.commit, { model: r.model, errors: r.errors, files: r.files });
    if (r.errors.length > 0)
      log.warn({ commit: r.commit, errors: r.errors.slice(0, 5) }, "repository does not validate");
    if (r.jobs.length === 0) log.info({ commit: r.commit, reason: r.reason }, "push runs no job");
    for (const job of r.jobs) {
      items.push(
        this.o.work.submit(
          job,
          r.commit,
          p.ref,
          {},
          {
            kind: "push",
            actor: p.pusher ? `${p.forge ?? "github"}:${p.pusher}` : (p.forge ?? "github"),
            by: { name: p.pusher ?? "unknown", via: p.forge ?? "github" },
            detail: {
              delivery: entry.delivery,
              ref: p.ref,
              before: p.before ?? "",
              after: r.commit,
              ...(takenOverFrom ? { takenOverFrom } : {}),
            },
          },
          claimed,
        ),
      );
    }
    // After the jobs are queued: a push's runs do not wait for the scheduler.
    if (p.ref === `refs/heads/${this.o.models.defaultBranch}`)
      await this.o.schedules.refresh(r.commit, r.model, r.errors);
    return items;
  }

  private async processDispatch(
    entry: InboxEntry,
    log: Logger,
    takenOverFrom?: string,
    claimed?: WorkClaim,
  ): Promise<WorkItem[]> {
    const items: WorkItem[] = [];
    const p = entry.payload as {
      action?: string;
      branch?: string;
      client_payload?: unknown;
      sender?: string;
    };
    await this.o.hooks.mirrorFetched();
    const branch = p.branch || this.o.models.defaultBranch;
    const commit = await this.o.mirror.branchHead(branch);
    const { model } = await this.o.models.at(commit);
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
        detail: {
          delivery: entry.delivery,
          event: "repository_dispatch",
          type,
          ...(takenOverFrom ? { takenOverFrom } : {}),
        },
      };
      if (problems.length > 0) {
        log.warn({ job: job.id, problems }, "client_payload does not fit the job's inputs");
        this.o.work.refuse(job, commit, `refs/heads/${branch}`, inputs, trigger, problems.join("; "));
        continue;
      }
      items.push(this.o.work.submit(job, commit, `refs/heads/${branch}`, inputs, trigger, claimed));
    }
    return items;
  }
}

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
