/**
 * What `opsc serve` plugs into the server: how it runs a job, reads a hook's
 * secret, recovers interrupted runs and records a missed schedule tick. The
 * server calls these; it never reaches the engine, the records or Git itself.
 */
import { userError } from "../core/errors.js";
import { GitRepository } from "../git/git-repository.js";
import { notifyRun } from "../notify/notifier.js";
import { recoverInterrupted } from "../records/journal.js";
import { recordMissedTick } from "../records/missed-tick.js";
import { recordAccessEvent } from "../records/access-event.js";
import { CredentialStore } from "../secrets/credential-store.js";
import { Redactor } from "../secrets/redactor.js";
import type { ServerOptions } from "../server/start-server.js";
import { detectDrift } from "./detect-drift.js";
import { executeJob } from "./execute-job.js";
import { loadValidRepo } from "./load-plan.js";

export type ServeWiring = Pick<
  ServerOptions,
  "executor" | "resolveSecret" | "recover" | "recordMissed" | "recordAccess"
>;

export function serveWiring(options: { push: boolean; redactor: Redactor }): ServeWiring {
  const { redactor } = options;
  return {
    // A `drift.schedule` tick (server/job-schedules.ts) checks the job instead of running it.
    executor: (request) =>
      request.trigger.detail?.drift === "true" ? detectDrift(request) : executeJob(request),
    resolveSecret: async (repoDir, commit, reference) => {
      const files = await GitRepository.at(repoDir).readFiles(commit);
      // Its own redactor: the other values of that file are no business of the server's logs.
      const value = await CredentialStore.forFiles(files.files, new Redactor()).get(reference);
      if (typeof value !== "string")
        throw userError("serve.hook-secret", `${reference} is a mapping, not a secret value`);
      return value;
    },
    recover: async (repoDir, records) => {
      await recoverInterrupted(repoDir, { settings: { records }, push: options.push, redactor });
    },
    recordMissed: async (repoDir, tick) => {
      await recordMissedTick(repoDir, { records: tick.records }, tick, {
        push: options.push,
        notify: async (summary) => {
          if (!tick.sourceCommit) return [];
          const { model, files } = await loadValidRepo({ repoDir, commit: tick.sourceCommit });
          const job = model.jobs.get(tick.job);
          if (!job || job.notify.length === 0) return [];
          return notifyRun(job.notify, summary, {
            redactor,
            credentials: CredentialStore.forFiles(files.files, redactor),
            settings: model.settings,
          });
        },
      });
    },
    recordAccess: async (repoDir, records, event) => {
      await recordAccessEvent(
        repoDir,
        { records },
        {
          event: event.event,
          by: {
            name: event.by.user,
            via: event.by.via,
            ...(event.by.token ? { token: event.by.token } : {}),
          },
          ...(event.detail.job ? { job: event.detail.job } : {}),
          ...(event.detail.commit ? { sourceCommit: event.detail.commit } : {}),
          detail: event.detail,
        },
        { push: options.push },
      );
    },
  };
}
