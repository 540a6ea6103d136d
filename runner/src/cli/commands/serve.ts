/** `opsc serve`: the self-hosted runner (webhooks, schedules, HTTP API, metrics). */
import { intOption } from "../input-flags.js";
import { Command } from "commander";
import { userError } from "../../core/errors.js";

export interface ServeOptions {
  repo: string;
  port: string;
  host: string;
  state?: string;
  limit: string;
  grace: string;
  push: boolean;
  claims: boolean;
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Run the self-hosted runner: GitHub webhooks, generic hooks, schedules and an HTTP API")
    .requiredOption(
      "--repo <url|dir>",
      "the automation repository: an https URL (mirrored) or a local directory",
    )
    .option("--port <n>", "port to listen on", "8080")
    .option("--host <addr>", "address to listen on (put a reverse proxy in front for TLS)", "127.0.0.1")
    .option(
      "--state <dir>",
      "state directory: mirror, journal, deliveries (default: $OPSC_STATE_DIR or ./.opsc-state)",
    )
    .option("--limit <n>", "runs at once across all jobs", "4")
    .option(
      "--grace <seconds>",
      "on SIGTERM/SIGINT, how long running steps may finish before they are cancelled",
      "30",
    )
    .option("--no-push", "commit records to the mirror but do not push them")
    .option("--no-claims", "do not claim work on the remote (only safe with a single replica)")
    .addHelpText(
      "after",
      `
Environment:
  OPSC_WEBHOOK_SECRET  required: the secret of the GitHub webhook (X-Hub-Signature-256)
  OPSC_API_TOKEN       bootstrap admin token for /api (recorded as bootstrap-token)
  OPSC_OIDC_ISSUER, OPSC_OIDC_CLIENT_ID, OPSC_OIDC_CLIENT_SECRET, OPSC_PUBLIC_URL
                       sign-in with OpenID Connect (all four, or none); see docs/access.md
  OPSC_GIT_TOKEN       token to fetch the repository and push records and claims
  SOPS_AGE_KEY_FILE    age identity for credentials (job hook secrets, job secrets)
  OPSC_REPLICA         this replica's name in claims and target locks (default host:pid)
  OPSC_LEASE_SECONDS   lease duration of target locks and claims (default 60); see docs/locks.md

Who may do what is access.yaml at the default branch's head; personal tokens:
opsc tokens --help.

Routes: POST /webhooks/github, /webhooks/gitlab, /webhooks/gitea, POST /hooks/JOB,
GET /auth/login, GET /auth/callback, POST /auth/refresh, POST /auth/logout, GET /api/me,
POST /api/jobs/JOB/runs, GET /api/runs, GET /api/runs/ID, GET /api/runs/ID/events,
GET /api/records/runs, GET /api/jobs, GET /healthz, GET /readyz, GET /metrics; the dashboard
at /. See docs/server.md, docs/http-api.md, docs/access.md and docs/dashboard.md.

Examples:
  $ OPSC_WEBHOOK_SECRET=... opsc serve --repo https://github.com/acme/ops.git --state /var/lib/opsc
  $ OPSC_WEBHOOK_SECRET=... OPSC_API_TOKEN=... opsc serve --repo . --port 9000`,
    )
    .action(async (opts: ServeOptions) => {
      await serveCommand(opts);
    });
}

export async function serveCommand(opts: ServeOptions): Promise<void> {
  const webhookSecret = process.env.OPSC_WEBHOOK_SECRET ?? "";
  if (webhookSecret.trim() === "") {
    throw userError(
      "serve.no-secret",
      "OPSC_WEBHOOK_SECRET is not set; the runner will not accept unsigned webhooks",
      {
        hint: "generate one (openssl rand -hex 32), set it in the environment and in the GitHub webhook's settings",
      },
    );
  }
  const port = intOption("--port", opts.port, 0, 65535);
  const limit = intOption("--limit", opts.limit, 1, 1000);
  const graceMs = intOption("--grace", opts.grace, 0, 86_400) * 1000;
  const apiToken = process.env.OPSC_API_TOKEN || undefined;
  // Loaded on use, so `opsc --help` and `--version` stay quick.
  const [{ serveWiring }, { startServer }, { runnerRedactor }] = await Promise.all([
    import("../../app/serve-wiring.js"),
    import("../../server/start-server.js"),
    import("../../app/runner-redactor.js"),
  ]);
  const oidc = oidcFromEnv(process.env);
  const redactor = await runnerRedactor();
  const server = await startServer({
    repo: opts.repo,
    state: opts.state ?? process.env.OPSC_STATE_DIR ?? ".opsc-state",
    port,
    host: opts.host,
    webhookSecret,
    ...(apiToken ? { apiToken } : {}),
    ...(oidc ? { oidc } : {}),
    limit,
    push: opts.push,
    claims: opts.claims,
    redactor,
    ...serveWiring({ push: opts.push, redactor }),
  });
  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        server.logger.warn({ signal }, "second signal: exiting now");
        process.exit(130);
      }
      server.logger.info(
        { signal, graceMs },
        "shutting down: new requests get 503, running steps have the grace period",
      );
      void server.close(graceMs).then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}

const OIDC_VARS = ["OPSC_OIDC_ISSUER", "OPSC_OIDC_CLIENT_ID", "OPSC_OIDC_CLIENT_SECRET", "OPSC_PUBLIC_URL"];

function oidcFromEnv(env: NodeJS.ProcessEnv) {
  const set = OIDC_VARS.filter((v) => (env[v] ?? "") !== "");
  if (set.length === 0) return undefined;
  if (set.length < OIDC_VARS.length) {
    throw userError(
      "serve.oidc-incomplete",
      `sign-in needs ${OIDC_VARS.filter((v) => !set.includes(v)).join(", ")} too`,
      {
        hint: "set all of OPSC_OIDC_ISSUER, OPSC_OIDC_CLIENT_ID, OPSC_OIDC_CLIENT_SECRET and OPSC_PUBLIC_URL, or none",
      },
    );
  }
  return {
    issuer: env.OPSC_OIDC_ISSUER!,
    clientId: env.OPSC_OIDC_CLIENT_ID!,
    clientSecret: env.OPSC_OIDC_CLIENT_SECRET!,
    publicUrl: env.OPSC_PUBLIC_URL!,
  };
}
