/** `opsc targets check [SELECTOR]`: can we reach them, is each the host we pinned, how fast. */
import { Command } from "commander";
import { userError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";
import { textTable } from "../../core/text-table.js";
import type { RepoModel } from "../../core/repo-model.js";
import { formatOption, jsonAlias, wantsJson, type FormatOpts } from "../format-option.js";
import { intFlag } from "../input-flags.js";
import { findRepoRoot } from "../../app/workspace.js";

export function register(program: Command): void {
  const targets = program.command("targets").description("Work with targets (hosts)");
  targets
    .command("show")
    .description("Show a target: labels and merged variables, with the file each value came from")
    .argument("<name>", "target name")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addOption(formatOption())
    .addOption(jsonAlias())
    .addHelpText(
      "after",
      `
Variables merge in this order, later wins: vars/*.yaml in name order (those whose match fits the
target's labels), then the target's own vars. A job's vars come last (see opsc plan --format json).

Examples:
  $ opsc targets show web-1
  $ opsc targets show web-1 --format json | jq .varsFrom

See docs/variables-and-facts.md.`,
    )
    .action(async (name: string, opts: { repo?: string } & FormatOpts) => {
      const { loadValidRepo } = await import("../../app/load-plan.js");
      const { model } = await loadValidRepo({ repoDir: findRepoRoot(opts.repo) });
      process.stdout.write(await show(model, name, wantsJson(opts)));
    });
  targets
    .command("check")
    .description("Connect to targets, verify their pinned host keys, run `true`, report latency")
    .argument(
      "[selector...]",
      "target names or globs, or label=value (all must match); default: every target",
    )
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--parallel <n>", "targets checked at once", intFlag("--parallel", 1, 1000), 20)
    .option(
      "--timeout <ms>",
      "per-target connect and exec timeout in ms",
      intFlag("--timeout", 100, 600_000),
      10_000,
    )
    .addOption(formatOption())
    .addOption(jsonAlias())
    .addHelpText(
      "after",
      `
Exit status: 0 every target answered with its pinned key, 1 any did not, 3 a mistake in the repository.

Examples:
  $ opsc targets check                  # every target
  $ opsc targets check 'web-*'          # by name glob
  $ opsc targets check role=web env=prod
  $ opsc targets check --format json | jq '.[] | select(.ok | not)'

A changed host key is reported with the fingerprint the server presented; nothing is authenticated
to such a host. See docs/ssh.md.`,
    )
    .action(
      async (selector: string[], opts: { repo?: string; parallel: number; timeout: number } & FormatOpts) => {
        // Loaded on use, so `opsc --help` and `--version` stay quick.
        const { checkRepoTargets } = await import("../../app/check-targets.js");
        const clean = await checkRepoTargets({
          repoDir: findRepoRoot(opts.repo),
          selector,
          parallel: opts.parallel,
          timeoutMs: opts.timeout,
        });
        if (wantsJson(opts)) {
          process.stdout.write(`${JSON.stringify(clean, null, 2)}\n`);
        } else {
          const rows = [["TARGET", "ADDRESS", "RESULT", "CONNECT", "EXEC"]];
          for (const r of clean) {
            rows.push([
              r.target,
              r.address,
              r.ok ? "ok" : `${r.code}`,
              r.connectMs !== undefined ? `${r.connectMs}ms` : "-",
              r.execMs !== undefined ? `${r.execMs}ms` : "-",
            ]);
          }
          for (const line of textTable(rows)) process.stdout.write(`${line}\n`);
          for (const r of clean.filter((x) => !x.ok)) process.stdout.write(`\n${r.target}: ${r.message}\n`);
          const bad = clean.filter((r) => !r.ok).length;
          process.stdout.write(`\n${clean.length - bad} of ${clean.length} targets ok\n`);
        }
        if (clean.some((r) => !r.ok)) process.exitCode = EXIT.failed;
      },
    );
}

async function show(model: RepoModel, name: string, json: boolean): Promise<string> {
  const { targetVars } = await import("../../plan/target-vars.js");
  const t = model.targets.get(name);
  if (!t)
    throw userError("targets.unknown", `there is no target "${name}"`, { hint: "opsc targets show NAME" });
  const { vars, from } = targetVars(model, t);
  if (json)
    return `${JSON.stringify({ name, host: t.host, labels: t.labels, vars, varsFrom: from }, null, 2)}\n`;
  const lines = [`${name}${t.host ? ` (${t.host})` : ""}`, `labels: ${JSON.stringify(t.labels)}`, "vars:"];
  for (const [k, v] of Object.entries(vars)) lines.push(`  ${k} = ${JSON.stringify(v)}    # ${from[k]}`);
  return `${lines.join("\n")}\n`;
}
