/**
 * Decides what a job's `notify:` sends for a run and sends it: webhooks,
 * emails, GitHub commit statuses. Every payload passes through the run's
 * Redactor before it leaves; a delivery that fails is logged and returned as
 * an outcome (for the run record), never thrown: a notification cannot fail a run.
 */
import { errorText } from "../core/error-text.js";
import type { Plan } from "../core/plan-model.js";
import type { NotifySpec, Settings } from "../core/repo-model.js";
import type { RunEventListener, RunResult } from "../core/run-events.js";
import type { NotificationOutcome, RunSummary } from "../core/run-summary.js";
import type { Redactor } from "../secrets/redactor.js";
import { renderEmail } from "./email-message.js";
import {
  buildPayload,
  type DriftFacts,
  eventForSpec,
  eventsFor,
  factsFromSummary,
  type NotifyEvent,
  type RunFacts,
} from "./notification.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { commitStatusFor, githubFromEnv, sendCommitStatus, type GitHubTarget } from "./send-commit-status.js";
import { sendWebhook } from "./send-webhook.js";

export interface CredentialReader {
  get(ref: string): Promise<string | Record<string, unknown>>;
}

export interface NotifyOptions {
  redactor: Redactor;
  /** Resolves webhook secrets and the SMTP password (the run's CredentialStore). */
  credentials?: CredentialReader;
  settings?: Pick<Settings, "name" | "notify"> & Partial<Pick<Settings, "records">>;
  /** Result of the job's previous run (previousRunResult), for `recovered`. */
  previousResult?: RunResult;
  env?: NodeJS.ProcessEnv;
  /** Where commit statuses go; default from the environment (githubFromEnv). null: none. */
  github?: GitHubTarget | null;
  /** Default: standard error. */
  log?: (line: string) => void;
  /** Time limit of one try. Default 10 s. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** For fault injection in tests. */
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Sends what a finished run raises (success, failure, recovered, missed) to every spec that listens. */
export async function notifyRun(
  specs: NotifySpec[],
  summary: RunSummary,
  opts: NotifyOptions,
): Promise<NotificationOutcome[]> {
  const raised = eventsFor(summary, opts.previousResult);
  return deliverAll(specs, raised, factsFromSummary(summary), opts);
}

/**
 * Sends `drift` (a drift check found something that would change) or `drift-resolved` (it found
 * nothing after a check that had) to every spec that listens.
 */
export async function notifyDrift(
  specs: NotifySpec[],
  event: "drift" | "drift-resolved",
  summary: RunSummary,
  drift: DriftFacts,
  opts: NotifyOptions,
): Promise<NotificationOutcome[]> {
  return deliverAll(specs, [event], { ...factsFromSummary(summary), problems: [], drift }, opts);
}

/**
 * For `started`: a listener for the run's events that notifies on
 * `run.started`. The deliveries run beside the run; `settled()` waits for them.
 */
export function startedNotifier(
  specs: NotifySpec[],
  plan: Pick<Plan, "trigger" | "commit" | "ref" | "checkMode">,
  opts: NotifyOptions,
): { listener: RunEventListener; settled(): Promise<NotificationOutcome[]> } {
  let pending: Promise<NotificationOutcome[]> = Promise.resolve([]);
  const listener: RunEventListener = (event) => {
    if (event.type !== "run.started") return;
    const facts: RunFacts = {
      id: event.runId,
      job: event.job,
      startedAt: event.at,
      trigger: plan.trigger,
      ...(plan.commit ? { sourceCommit: plan.commit } : {}),
      ...(plan.ref ? { ref: plan.ref } : {}),
      checkMode: plan.checkMode,
      targetCount: event.targets.length,
      problems: [],
    };
    pending = deliverAll(specs, ["started"], facts, opts);
  };
  return { listener, settled: () => pending };
}

async function deliverAll(
  specs: NotifySpec[],
  raised: NotifyEvent[],
  facts: RunFacts,
  opts: NotifyOptions,
): Promise<NotificationOutcome[]> {
  const jobs: Array<Promise<NotificationOutcome>> = [];
  for (const spec of specs) {
    const event = eventForSpec(spec, raised);
    if (!event) continue;
    // Masked once, here: every channel renders from this copy. Text only: ids and timestamps are structure.
    const built = buildPayload(event, facts, opts.settings?.name);
    const payload = {
      ...built,
      text: opts.redactor.redact(built.text),
      problems: built.problems.map((p) => (p.reason ? { ...p, reason: opts.redactor.redact(p.reason) } : p)),
    };
    if (spec.webhook) jobs.push(timed(() => webhook(spec.webhook!, event, JSON.stringify(payload), opts)));
    if (spec.email)
      jobs.push(
        timed(() => email(spec.email!.to, event, renderEmail(payload, opts.settings?.records?.branch), opts)),
      );
    if (spec.githubStatus) jobs.push(timed(() => status(event, payload, opts)));
  }
  const outcomes = (await Promise.all(jobs)).map((o) => ({
    ...o,
    to: opts.redactor.redact(o.to),
    ...(o.error !== undefined ? { error: opts.redactor.redact(o.error) } : {}),
    ...(o.skipped !== undefined ? { skipped: opts.redactor.redact(o.skipped) } : {}),
  }));
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const o of outcomes) {
    if (!o.ok)
      log(`notify: ${o.event} ${o.channel} to ${o.to} failed after ${o.attempts} attempt(s): ${o.error}`);
    else if (o.skipped) log(`notify: ${o.event} ${o.channel} skipped: ${o.skipped}`);
  }
  return outcomes;
}

type Outcome = Omit<NotificationOutcome, "ms">;

async function timed(fn: () => Promise<Outcome>): Promise<NotificationOutcome> {
  const start = Date.now();
  const o = await fn();
  return { ...o, ms: Date.now() - start };
}

async function secretValue(ref: string, what: string, opts: NotifyOptions): Promise<string> {
  if (!opts.credentials)
    throw new Error(`${what} ${ref} cannot be read: no credentials were loaded for this run`);
  const v = await opts.credentials.get(ref);
  if (typeof v !== "string")
    throw new Error(`${what} ${ref} is a mapping, not a value: name one of its keys`);
  return v;
}

/**
 * A signed payload about production runs is not sent in clear over a network:
 * plain HTTP only to loopback (a local relay, tests), as the job schema says.
 */
function plainHttpRefusal(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (u.protocol === "https:") return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol === "http:" && (host === "localhost" || host === "::1" || /^127\./.test(host)))
    return undefined;
  return `refusing to send to ${u.protocol}//${u.host}: use https:// (plain http:// only to loopback)`;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

async function webhook(
  spec: NonNullable<NotifySpec["webhook"]>,
  event: NotifyEvent,
  body: string,
  opts: NotifyOptions,
): Promise<Outcome> {
  const base = { event, channel: "webhook" as const, to: originOf(spec.url) };
  const refused = plainHttpRefusal(spec.url);
  if (refused) return { ...base, ok: false, attempts: 0, error: refused };
  let secret: string | undefined;
  try {
    if (spec.secret) secret = await secretValue(spec.secret, "webhook secret", opts);
  } catch (e) {
    return { ...base, ok: false, attempts: 0, error: errorText(e) };
  }
  const r = await sendWebhook({
    url: spec.url,
    body,
    event,
    ...(secret !== undefined ? { secret } : {}),
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: opts.retry ?? DEFAULT_RETRY,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return r.error
    ? { ...base, ok: false, attempts: r.attempts, error: r.error.message }
    : { ...base, ok: true, attempts: r.attempts };
}

async function email(
  to: string[],
  event: NotifyEvent,
  message: ReturnType<typeof renderEmail>,
  opts: NotifyOptions,
): Promise<Outcome> {
  const base = { event, channel: "email" as const, to: to.join(", ") };
  const smtp = opts.settings?.notify?.smtp;
  if (!smtp) {
    return {
      ...base,
      ok: false,
      attempts: 0,
      error: "no SMTP server: set notify.smtp in opsconductor.yaml (docs/notifications.md)",
    };
  }
  let password: string | undefined;
  try {
    if (smtp.password) password = await secretValue(smtp.password, "SMTP password", opts);
  } catch (e) {
    return { ...base, ok: false, attempts: 0, error: errorText(e) };
  }
  // nodemailer is large: loaded only when a job sends mail.
  const { sendEmail } = await import("./send-email.js");
  const r = await sendEmail({
    smtp,
    ...(password !== undefined ? { password } : {}),
    to,
    message,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: opts.retry ?? DEFAULT_RETRY,
  });
  return r.error
    ? { ...base, ok: false, attempts: r.attempts, error: r.error.message }
    : { ...base, ok: true, attempts: r.attempts };
}

async function status(
  event: NotifyEvent,
  payload: ReturnType<typeof buildPayload>,
  opts: NotifyOptions,
): Promise<Outcome> {
  const gh = opts.github === undefined ? githubFromEnv(opts.env ?? process.env) : opts.github;
  const sha = payload.run.sourceCommit;
  const base = {
    event,
    channel: "github-status" as const,
    to: gh && sha ? `${gh.repository}@${sha.slice(0, 12)}` : "github",
  };
  if (!gh)
    return {
      ...base,
      ok: true,
      attempts: 0,
      skipped: "no GitHub token (OPSC_GITHUB_TOKEN or GITHUB_TOKEN) and repository (GITHUB_REPOSITORY)",
    };
  // The token must never be printed, even in an error a proxy echoes back.
  opts.redactor.add(gh.token);
  const body = commitStatusFor(payload, gh.targetUrl);
  if (!body || !sha) return { ...base, ok: true, attempts: 0, skipped: "the run has no source commit" };
  const r = await sendCommitStatus(gh, sha, body, {
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: opts.retry ?? DEFAULT_RETRY,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  return r.error
    ? { ...base, ok: false, attempts: r.attempts, error: r.error.message }
    : { ...base, ok: true, attempts: r.attempts };
}
