/**
 * Generic hooks and the API: the job at the default branch's head, its hook
 * secret (decrypted once a commit, after a fetch, never because of an unsigned
 * request), and the acceptance of a run with inputs the planner checked.
 */
import type { Logger } from "pino";
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import type { Trigger } from "../core/plan-model.js";
import type { JobDef, RepoModel } from "../core/repo-model.js";
import type { RepoMirror } from "../git/repo-mirror.js";
import { buildPlan } from "../plan/build-plan.js";
import { MODEL_CACHE, type ModelCache } from "./model-cache.js";
import type { ServerMetrics } from "./server-metrics.js";
import type { StateStore } from "./state-store.js";
import type { WorkItem } from "./work-item.js";
import type { WorkItems } from "./work-items.js";

/** What a hook call is checked against: the secret, or why there is none. */
export type HookSecret = { secret: string } | { reason: string };

export interface Accepted {
  status: number;
  body: Record<string, unknown>;
}

/** A job at a commit, as a hook call or API request runs it. */
export interface JobAtCommit {
  job: JobDef;
  commit: string;
  ref: string;
  model: RepoModel;
}

export interface HookAcceptanceOptions {
  store: StateStore;
  mirror: RepoMirror;
  models: ModelCache;
  work: WorkItems;
  logger: Logger;
  metrics: ServerMetrics;
  /** Decrypts a credential reference at a commit (the job's hook secret). */
  resolveSecret?: ((commit: string, reference: string) => Promise<string | undefined>) | undefined;
}

export class HookAcceptance {
  /** Hook secrets by commit, then by job: decrypted once a commit, never because of an unsigned request (see mirrorFetched). */
  private readonly hookSecrets = new Map<string, Promise<Map<string, HookSecret>>>();

  constructor(private readonly o: HookAcceptanceOptions) {}

  /**
   * The commit and job a hook call or API request runs: the default branch's
   * head in the mirror, fetched first so it is never stale.
   */
  async jobAtHead(jobId: string, fetch = true): Promise<JobAtCommit> {
    if (fetch) await this.mirrorFetched();
    const commit = await this.o.models.headCommit();
    const { model } = await this.o.models.at(commit);
    const job = model.jobs.get(jobId);
    if (!job) throw userError("api.unknown-job", `there is no job "${jobId}" at ${commit.slice(0, 12)}`);
    return { job, commit, ref: `refs/heads/${this.o.models.defaultBranch}`, model };
  }

  /**
   * The hook secret of a job at the default branch's head, without fetching.
   * Answers why not (for the log, never for the caller) when the job is
   * unknown, takes no hook, or the repository does not validate there.
   */
  async hookSecretAtHead(jobId: string): Promise<HookSecret> {
    try {
      const commit = await this.o.models.headCommit();
      const secrets = await this.hookSecretsAt(commit);
      return secrets.get(jobId) ?? { reason: `there is no job "${jobId}" at ${commit}` };
    } catch (e) {
      return { reason: errorText(e) };
    }
  }

  /** Fetches, then decrypts the new head's hook secrets, so an unsigned hook call never causes a decryption. */
  async mirrorFetched(): Promise<void> {
    await this.o.mirror.fetch();
    await this.prepareHooks();
  }

  async prepareHooks(): Promise<void> {
    try {
      await this.hookSecretsAt(await this.o.models.headCommit());
    } catch (e) {
      this.o.logger.warn({ err: errorText(e) }, "cannot read the hook secrets at the default branch's head");
    }
  }

  /** Validates inputs through the planner, then queues. Throws a user error listing the problems. */
  acceptRun(
    target: JobAtCommit,
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
    const item = this.o.work.submit(target.job, target.commit, target.ref, inputs, trigger);
    return {
      status: 202,
      body: { id: item.id, status: item.status, commit: target.commit, ...reasonOf(item) },
    };
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
    const { model, errors } = await this.o.models.at(commit);
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
}

/** The planner is the one judge of inputs: the same rules as `opsc plan` and `opsc run`. */
export function inputProblems(
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

function reasonOf(item: WorkItem): Record<string, string> {
  return item.reason ? { reason: item.reason } : {};
}
