/**
 * Assembles the runner: state directory, mirror, claims, service, scheduler
 * and the express app, listening on a port. `opsc serve` calls this; tests
 * call it in-process with their own executor and clock.
 */
import { errorText } from "../core/error-text.js";
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import { environmentError } from "../core/errors.js";
import type { Settings } from "../core/repo-model.js";
import type { Redactor } from "../secrets/redactor.js";
import { openServerRepository } from "../app/server-repository.js";
import { openTokenStore } from "../app/personal-tokens.js";
import { AccessControl, type AccessEvent } from "./auth/access-control.js";
import { OidcClient, type OidcSettings } from "./auth/oidc-client.js";
import { SessionManager } from "./auth/session-manager.js";
import { watchTokenFile } from "./auth/watch-token-file.js";
import type { Claims } from "../git/claims.js";
import { systemClock, type Clock } from "./clock.js";
import { createHttpApp } from "./http-app.js";
import type { JobExecutor } from "./job-executor.js";
import { RunnerService, type MissedTick } from "./runner-service.js";
import { createLogger } from "./server-logger.js";
import { ServerMetrics } from "./server-metrics.js";
import { StateStore } from "./state-store.js";

export interface ServerOptions {
  /** `--repo URL|DIR`. */
  repo: string;
  /** State directory: mirror, journal, deliveries. */
  state: string;
  port: number;
  host?: string;
  webhookSecret: string;
  /** Bootstrap admin token (OPSC_API_TOKEN). */
  apiToken?: string;
  /** Sign-in with OpenID Connect; without it only bearer tokens authenticate. */
  oidc?: OidcSettings;
  /** Failed authentications per client address and minute before 429 (default 20). */
  authFailuresPerMinute?: number;
  /** Writes an access event (token created or revoked, run refused) to the audit trail. */
  recordAccess?: (repoDir: string, records: Settings["records"], event: AccessEvent) => Promise<void>;
  executor: JobExecutor;
  /** Runs at once (default 4). */
  limit?: number;
  push?: boolean;
  /** Claim deliveries and ticks on the remote (default: on for a URL, on for a DIR too); tests may pass their own. */
  claims?: boolean | Claims;
  clock?: Clock;
  useNodeCron?: boolean;
  toleranceMs?: number;
  bodyLimit?: number;
  logger?: Logger;
  /** Masks what the server logs and answers (`opsc serve`: app/runner-redactor.ts). */
  redactor: Redactor;
  resolveSecret?: (repoDir: string, commit: string, reference: string) => Promise<string | undefined>;
  recordMissed?: (repoDir: string, tick: MissedTick) => Promise<void>;
  recover?: (repoDir: string, records: Settings["records"]) => Promise<void>;
}

export interface RunningServer {
  service: RunnerService;
  port: number;
  url: string;
  logger: Logger;
  /** Stops accepting, lets runs finish for `graceMs`, cancels the rest, closes the port. */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const redactor = o.redactor;
  redactor.add(o.webhookSecret);
  if (o.apiToken) redactor.add(o.apiToken);
  if (o.oidc) redactor.add(o.oidc.clientSecret);
  const logger = o.logger ?? createLogger({ redactor });
  mkdirSync(o.state, { recursive: true });
  // Our files live in server/, beside the records' own state (crash journal, pending pushes).
  const store = new StateStore(path.resolve(o.state, "server"));
  const { mirror, claims, shownAs, remoteShownAs } = await openServerRepository(o.repo, o.state, o.claims);
  const metrics = new ServerMetrics({ defaults: true });
  const service = new RunnerService({
    store,
    mirror,
    executor: o.executor,
    logger,
    metrics,
    clock: o.clock ?? systemClock,
    limit: o.limit ?? 4,
    push: o.push ?? true,
    ...(claims ? { claims } : {}),
    ...(o.resolveSecret
      ? { resolveSecret: (c: string, r: string) => o.resolveSecret!(mirror.repoDir, c, r) }
      : {}),
    ...(o.recordMissed ? { recordMissed: (t: MissedTick) => o.recordMissed!(mirror.repoDir, t) } : {}),
    ...(o.recover ? { recover: (r: Settings["records"]) => o.recover!(mirror.repoDir, r) } : {}),
    useNodeCron: o.useNodeCron ?? true,
    ...(o.toleranceMs !== undefined ? { toleranceMs: o.toleranceMs } : {}),
  });
  const serverDir = path.resolve(o.state, "server");
  const tokens = openTokenStore(path.resolve(o.state));
  let accessRecords: Promise<void> = Promise.resolve();
  const access = new AccessControl({
    logger,
    policy: () => service.accessPolicy(),
    tokens,
    sessions: new SessionManager(serverDir, o.oidc?.publicUrl ?? "opsc"),
    ...(o.oidc ? { oidc: new OidcClient(o.oidc) } : {}),
    ...(o.apiToken ? { bootstrapToken: o.apiToken } : {}),
    secureCookies: !o.oidc || !isLoopbackHttp(o.oidc.publicUrl),
    ...(o.authFailuresPerMinute !== undefined ? { failuresPerMinute: o.authFailuresPerMinute } : {}),
    onEvent: (event) => {
      if (!o.recordAccess) return;
      const record = o.recordAccess;
      // One after the other: the audit trail keeps the order things happened in (created before revoked).
      accessRecords = accessRecords
        .then(() => service.headSettings())
        .then((settings) => record(mirror.repoDir, settings.records, event))
        .catch((e: unknown) => {
          logger.error({ err: errorText(e), event: event.event }, "cannot record the access event");
        });
    },
  });
  const app = createHttpApp({
    service,
    metrics,
    logger,
    redactor,
    webhookSecret: o.webhookSecret,
    access,
    ...(o.bodyLimit !== undefined ? { bodyLimit: o.bodyLimit } : {}),
    stateDir: path.resolve(o.state, "server"),
    ...(remoteShownAs ? { repoUrl: remoteShownAs } : {}),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(o.port, o.host ?? "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once("error", reject);
  }).catch((e: unknown) => {
    throw environmentError("serve.listen", `cannot listen on port ${o.port}: ${errorText(e)}`, {
      hint: "pick another --port, or stop what is using it",
      cause: e,
    });
  });
  const port = (server.address() as AddressInfo).port;
  // `opsc tokens create|revoke` has no records repository: the server audits what it does.
  const stopTokenWatch = watchTokenFile({
    tokens,
    dir: serverDir,
    logger,
    onChange: ({ event, entry }) => {
      const by = (event === "token.created" ? entry.createdBy : entry.revokedBy) ?? "cli";
      access.event({
        event,
        by: { user: by, via: "cli", groups: [] },
        detail: {
          token: entry.name,
          user: entry.user,
          at: (event === "token.created" ? entry.createdAt : entry.revokedAt) ?? "",
          source: "token file",
        },
      });
    },
  });
  await service.start();
  logger.info({ port, repo: shownAs, state: o.state }, "runner listening");
  let closing: Promise<void> | undefined;
  return {
    service,
    port,
    url: `http://${o.host ?? "127.0.0.1"}:${port}`,
    logger,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        stopTokenWatch();
        await service.shutdown(graceMs);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        logger.info("runner stopped");
      })();
      return closing;
    },
  };
}

/** Browsers send Secure cookies only over HTTPS; plain HTTP is allowed on this machine alone. */
function isLoopbackHttp(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname);
  } catch {
    return false;
  }
}
