/**
 * Assembles the runner: state directory, mirror, claims, service, scheduler
 * and the express app, listening on a port. `opsc serve` calls this; tests
 * call it in-process with their own executor and clock.
 */
import { displayUrl } from "../git/display-url.js";
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import { environmentError } from "../core/errors.js";
import type { Settings } from "../core/repo-model.js";
import { Redactor } from "../secrets/redactor.js";
import { LocalClaims, RemoteClaims, type Claims } from "./claims.js";
import { systemClock, type Clock } from "./clock.js";
import { createHttpApp } from "./http-app.js";
import type { JobExecutor } from "./job-executor.js";
import { openMirror } from "./repo-mirror.js";
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
  apiToken?: string;
  executor: JobExecutor;
  /** Runs at once (default 4). */
  limit?: number;
  push?: boolean;
  /** Claim deliveries and ticks on the remote (default: on for a URL, on for a DIR too). */
  claims?: boolean;
  clock?: Clock;
  useNodeCron?: boolean;
  toleranceMs?: number;
  bodyLimit?: number;
  logger?: Logger;
  redactor?: Redactor;
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
  const redactor = o.redactor ?? new Redactor();
  redactor.add(o.webhookSecret);
  if (o.apiToken) redactor.add(o.apiToken);
  const logger = o.logger ?? createLogger({ redactor });
  mkdirSync(o.state, { recursive: true });
  // Our files live in server/, beside the records' own state (crash journal, pending pushes).
  const store = new StateStore(path.resolve(o.state, "server"));
  const mirror = await openMirror(o.repo, path.resolve(o.state));
  let claims: Claims | undefined;
  if (o.claims !== false)
    claims = mirror.url ? new RemoteClaims(mirror.gitdir, mirror.url) : new LocalClaims(mirror.gitdir);
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
  const app = createHttpApp({
    service,
    metrics,
    logger,
    redactor,
    webhookSecret: o.webhookSecret,
    ...(o.apiToken ? { apiToken: o.apiToken } : {}),
    ...(o.bodyLimit !== undefined ? { bodyLimit: o.bodyLimit } : {}),
    stateDir: path.resolve(o.state, "server"),
    ...(mirror.url ? { repoUrl: displayUrl(mirror.url) } : {}),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(o.port, o.host ?? "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once("error", reject);
  }).catch((e: unknown) => {
    throw environmentError("serve.listen", `cannot listen on port ${o.port}: ${(e as Error).message}`, {
      hint: "pick another --port, or stop what is using it",
      cause: e,
    });
  });
  const port = (server.address() as AddressInfo).port;
  await service.start();
  logger.info({ port, repo: displayUrl(o.repo), state: o.state }, "runner listening");
  let closing: Promise<void> | undefined;
  return {
    service,
    port,
    url: `http://${o.host ?? "127.0.0.1"}:${port}`,
    logger,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        await service.shutdown(graceMs);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        logger.info("runner stopped");
      })();
      return closing;
    },
  };
}
