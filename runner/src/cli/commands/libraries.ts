/** `opsc libraries update [NAME]` and `opsc libraries list`: step libraries from other repositories. */
import { Command, Option } from "commander";
import { findRepoRoot } from "../../app/workspace.js";

type ListFormat = "text" | "json";
const FORMATS: readonly ListFormat[] = ["text", "json"];

export function register(program: Command): void {
  const libraries = program
    .command("libraries")
    .description("Step libraries shared across repositories, pinned by commit in opsconductor.lock");
  libraries
    .command("update")
    .description("Resolve each library's ref now, fetch it, and rewrite opsconductor.lock")
    .argument("[name...]", "libraries to update (default: every library)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addOption(new Option("--format <format>", "output format").choices([...FORMATS]).default("text"))
    .addHelpText(
      "after",
      `
Nothing runs a new library version until the rewritten opsconductor.lock is committed:
review it with \`opsc diff\` (it lists the library steps that changed, with script diffs).
Private libraries: set OPSC_GIT_TOKEN, or give the library a \`credential:\`.
Behind a firewall: OPSC_LIBRARY_MIRROR="PREFIX=REPLACEMENT ..." fetches from a mirror; the lock
keeps the library's own URL (docs/libraries.md).

Exit status: 0 the lock was written, 3 a library or ref that does not exist, 4 the remote is unreachable.

Examples:
  $ opsc libraries update                 # every library
  $ opsc libraries update std             # only std
  $ opsc libraries update std && git commit -qam "Update std" && opsc diff HEAD~1 HEAD
  $ OPSC_GIT_TOKEN=... opsc libraries update team --format json
  $ OPSC_LIBRARY_MIRROR=https://github.com/=https://git.corp.example/github/ opsc libraries update std`,
    )
    .action(async (names: string[], opts: { repo?: string; format: ListFormat }) => {
      const root = findRepoRoot(opts.repo);
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const [{ readRepoDir }, { updateLibraries }] = await Promise.all([
        import("../../repo/read-dir.js"),
        import("../../app/update-libraries.js"),
      ]);
      const result = await updateLibraries(root, await readRepoDir(root), names);
      if (opts.format === "json") {
        process.stdout.write(
          `${JSON.stringify({ updates: result.updates, removed: result.removed }, null, 2)}\n`,
        );
        return;
      }
      const lines = result.updates.map((u) =>
        u.before === u.after
          ? `${u.name}: ${u.ref} still at ${u.after.slice(0, 12)}`
          : `${u.name}: ${u.ref} ${u.before ? `${u.before.slice(0, 12)} -> ` : "locked at "}${u.after.slice(0, 12)}`,
      );
      for (const name of result.removed) lines.push(`${name}: removed (no longer declared)`);
      if (lines.length === 0) lines.push("no libraries declared in opsconductor.yaml");
      lines.push("", "Review the change (opsc diff) and commit opsconductor.lock.");
      process.stdout.write(`${lines.join("\n")}\n`);
    });
  libraries
    .command("list")
    .description("Show each library: name, ref, locked commit and its age")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .addOption(new Option("--format <format>", "output format").choices([...FORMATS]).default("text"))
    .addHelpText(
      "after",
      `
Reads only opsconductor.yaml and opsconductor.lock: no network.

Examples:
  $ opsc libraries list
  $ opsc libraries list --format json | jq '.[] | select(.ageDays > 90)'`,
    )
    .action(async (opts: { repo?: string; format: ListFormat }) => {
      const root = findRepoRoot(opts.repo);
      const [{ readRepoDir }, { listLibraries }] = await Promise.all([
        import("../../repo/read-dir.js"),
        import("../../app/list-libraries.js"),
      ]);
      const list = listLibraries(await readRepoDir(root), new Date());
      if (opts.format === "json") {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write("no libraries declared in opsconductor.yaml\n");
        return;
      }
      const rows = [
        ["NAME", "REF", "COMMIT", "AGE", "URL"],
        ...list.map((l) => [
          l.name,
          l.ref,
          l.commit ? `${l.commit.slice(0, 12)}${l.stale ? " (stale)" : ""}` : "(not locked)",
          l.ageDays === undefined ? "-" : `${l.ageDays}d`,
          l.url + (l.path ? ` (${l.path})` : ""),
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(
        rows
          .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "))
          .join("\n") + "\n",
      );
    });
}
