/** `opsc tokens create|list|revoke`: personal API tokens of `opsc serve`, kept in its state directory. */
import { Command } from "commander";
import { usageError } from "../../core/errors.js";
import { textTable } from "../../core/text-table.js";
import { parseDuration } from "../../repo/duration.js";
import { formatOption, jsonAlias, wantsJson, type FormatOpts } from "../format-option.js";

const STATE_HELP = "the server's state directory (default: $OPSC_STATE_DIR or ./.opsc-state)";
const write = (s: string): void => void process.stdout.write(s);

function stateOf(opts: { state?: string }): string {
  return opts.state ?? process.env.OPSC_STATE_DIR ?? ".opsc-state";
}

/** The store is loaded on use, so other commands do not pay for it. */
async function store(opts: { state?: string }) {
  const { openTokenStore } = await import("../../app/personal-tokens.js");
  return openTokenStore(stateOf(opts));
}

export function register(program: Command): void {
  const tokens = program
    .command("tokens")
    .description("Personal API tokens for opsc serve: create (shown once), list, revoke")
    .addHelpText(
      "after",
      `
A token acts as its --user, with the roles access.yaml gives that user. Only a
hash is stored, in STATE/server/tokens.json; a running server sees changes at once
and writes them to the audit trail.

Examples:
  $ opsc tokens create --user ci@example.com --name ci-deploy --expires 90d --state /var/lib/opsc
  $ opsc tokens list --state /var/lib/opsc
  $ opsc tokens revoke ci-deploy --state /var/lib/opsc
  $ curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/me

See docs/access.md.`,
    );
  tokens
    .command("create")
    .description("Create a token and print it once on stdout")
    .requiredOption("--user <user>", "the user the token acts as (an email or name listed in access.yaml)")
    .requiredOption("--name <name>", "a name for the token, unique among live tokens (e.g. ci-deploy)")
    .option("--expires <duration>", "lifetime such as 90d, 12h (default: never expires)")
    .option("--state <dir>", STATE_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ opsc tokens create --user ci@example.com --name ci-deploy --expires 90d --state /var/lib/opsc
  $ TOKEN=$(opsc tokens create --user alice@example.com --name laptop --state .opsc-state)`,
    )
    .action(async (opts: { user: string; name: string; expires?: string; state?: string }) => {
      let expiresInMs: number | undefined;
      if (opts.expires !== undefined) {
        expiresInMs = parseDuration(opts.expires);
        if (!expiresInMs)
          throw usageError("tokens.bad-expires", `--expires ${opts.expires} is not a duration`, {
            hint: "write it like 90d, 12h or 30m",
          });
      }
      const { token, entry } = (await store(opts)).create({
        name: opts.name,
        user: opts.user,
        createdBy: "cli",
        now: new Date(),
        ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      });
      write(`${token}\n`);
      process.stderr.write(
        `token "${entry.name}" for ${entry.user} created${entry.expiresAt ? `, expires ${entry.expiresAt}` : ""}; it is not shown again\n`,
      );
    });
  tokens
    .command("list")
    .description("List tokens: name, user, created, expires, state (never the token)")
    .option("--state <dir>", STATE_HELP)
    .addOption(formatOption())
    .addOption(jsonAlias())
    .addHelpText(
      "after",
      `
Examples:
  $ opsc tokens list --state /var/lib/opsc
  $ opsc tokens list --state /var/lib/opsc --format json | jq -r '.[] | select(.state == "live") | .name'`,
    )
    .action(async (opts: { state?: string } & FormatOpts) => {
      const now = Date.now();
      const list = (await store(opts)).list().map(({ sha256: _hash, ...t }) => ({
        ...t,
        state: t.revokedAt ? "revoked" : t.expiresAt && Date.parse(t.expiresAt) <= now ? "expired" : "live",
      }));
      if (wantsJson(opts)) return write(`${JSON.stringify(list, null, 2)}\n`);
      if (list.length === 0) return write("no tokens\n");
      const rows = [
        ["NAME", "USER", "CREATED", "EXPIRES", "STATE"],
        ...list.map((t) => [t.name, t.user, t.createdAt, t.expiresAt ?? "never", t.state]),
      ];
      write(`${textTable(rows).join("\n")}\n`);
    });
  tokens
    .command("revoke")
    .description("Revoke a live token by name: it stops working at once")
    .argument("<name>", "the token's name")
    .option("--state <dir>", STATE_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ opsc tokens revoke ci-deploy --state /var/lib/opsc`,
    )
    .action(async (name: string, opts: { state?: string }) => {
      const entry = (await store(opts)).revoke(name, { by: "cli", now: new Date() });
      write(`token "${entry.name}" of ${entry.user} revoked\n`);
    });
}
