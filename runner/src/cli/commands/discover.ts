/** `opsc discover CIDR...`: find SSH servers, pin their host keys, propose them as targets. */
import { intFlag } from "../input-flags.js";
import { Command } from "commander";
import { usageError, userError } from "../../core/errors.js";
import { textTable } from "../../core/text-table.js";
import type { MergeResult, ProbeResult } from "../../app/discover-hosts.js";

interface Options {
  port: number;
  concurrency: number;
  timeout: number;
  write?: string;
  branch?: string;
  repo?: string;
  prefix: string;
  force?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("discover")
    .description("Find SSH servers in address ranges, read their host keys, and propose them as targets")
    .argument("<cidr...>", "IPv4 CIDR blocks or addresses (10.0.1.0/24 10.0.2.7)")
    .option("--port <n>", "SSH port to probe", intFlag("--port", 1, 65535), 22)
    .option("--concurrency <n>", "connections at once", intFlag("--concurrency", 1, 1024), 64)
    .option(
      "--timeout <ms>",
      "time limit of each connection step, in ms",
      intFlag("--timeout", 50, 120_000),
      3000,
    )
    .option(
      "--write <file>",
      "merge the SSH servers found into this targets file (comments and entries are kept)",
    )
    .option(
      "--branch <name>",
      "commit the change to --write FILE (a path in the repository) on a new branch instead of the working tree",
    )
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("--prefix <text>", "id prefix of new targets", "host-")
    .option("--force", "allow ranges larger than a /16")
    .option("--json", "print every probe result as JSON")
    .addHelpText(
      "after",
      `
Each address gets a TCP connection; an SSH server's banner is read and its host keys are
taken from the key exchange, which is then refused: nothing logs in. New servers become
targets \`host-10-0-1-7\` with the presented keys pinned as host_key; servers already in the
repository (same address and port) or in the file are left out. Check the keys out of band
(e.g. \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host) before you trust them.

Exit status: 0 the scan ran (whatever it found), 2 a bad range or option, 3 a bad file.

Examples:
  $ opsc discover 10.0.1.0/24
  $ opsc discover 10.0.1.0/24 10.0.2.0/24 --port 2222 --write targets/discovered.yaml
  $ opsc discover 10.0.1.0/24 --write targets/discovered.yaml --branch discover/dc1
  $ git push origin discover/dc1        # then open a pull request

See docs/discovery.md.`,
    )
    .action(async (cidrs: string[], opts: Options) => {
      if (opts.branch && !opts.write) {
        throw usageError(
          "discover.branch-needs-write",
          "--branch needs --write FILE (the targets file to change on the branch)",
          {
            hint: "e.g. --write targets/discovered.yaml --branch discover/dc1",
          },
        );
      }
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(opts.prefix) && opts.prefix !== "") {
        throw usageError(
          "discover.bad-prefix",
          `--prefix ${opts.prefix}: target ids use lower-case letters, digits, ".", "_" and "-"`,
        );
      }
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const { discoverHosts, writeDiscoveredTargets, hostKeyFingerprints } =
        await import("../../app/discover-hosts.js");
      const discovery = await discoverHosts({
        cidrs,
        force: opts.force ?? false,
        port: opts.port,
        concurrency: opts.concurrency,
        timeoutMs: opts.timeout,
        prefix: opts.prefix,
        ...(opts.repo !== undefined ? { repo: opts.repo } : {}),
        needsRepo: Boolean(opts.branch),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(discovery.results, null, 2)}\n`);
      else printTable(discovery.results, discovery.scanned, discovery.ms, hostKeyFingerprints);

      if (!opts.write) return;
      const { result, proposed } = await writeDiscoveredTargets(discovery, {
        file: opts.branch ? repoPath(opts.write) : opts.write,
        ...(opts.branch ? { branch: opts.branch } : {}),
        cidrs,
      });
      report(result);
      if (proposed) {
        if (proposed.commit) {
          process.stderr.write(
            `branch ${opts.branch} created at ${proposed.commit.slice(0, 12)} on top of ${proposed.base.slice(0, 12)}: push it and open a pull request\n`,
          );
        } else {
          process.stderr.write(`nothing new: branch ${opts.branch} was not created\n`);
        }
      }
      process.stderr.write(
        `${result.added.length} target(s) added to ${opts.write}, ${result.skipped.length} already known\n`,
      );
    });
}

function report(result: MergeResult): void {
  for (const s of result.skipped) process.stderr.write(`skipped ${s.id}: ${s.reason}\n`);
}

function repoPath(file: string): string {
  const p = file.replace(/\\/g, "/").replace(/^\.\//, "");
  if (
    p.startsWith("/") ||
    p.split("/").some((s) => s === ".." || s === "") ||
    !/^targets\/.+\.ya?ml$/.test(p)
  ) {
    throw userError(
      "discover.bad-path",
      `--write ${file}: with --branch, give a targets file path inside the repository, like targets/discovered.yaml`,
    );
  }
  return p;
}

function printTable(
  results: ProbeResult[],
  scanned: number,
  ms: number,
  fingerprints: (hostKeys: string[]) => string[],
): void {
  const open = results.filter((r) => r.state === "ssh" || r.state === "not-ssh");
  const rows = open.map((r) => {
    const keys = fingerprints(r.hostKeys);
    return [
      r.address,
      String(r.port),
      r.state,
      r.banner ?? r.error ?? "",
      keys.join(", ") || (r.state === "ssh" ? `(no key: ${r.error ?? "?"})` : ""),
    ];
  });
  if (rows.length > 0) {
    const header = ["ADDRESS", "PORT", "STATE", "BANNER", "HOST KEYS"];
    for (const line of textTable([header, ...rows])) process.stdout.write(`${line}\n`);
  }
  const ssh = results.filter((r) => r.state === "ssh").length;
  const other = results.filter((r) => r.state === "not-ssh").length;
  process.stdout.write(
    `scanned ${scanned} address(es) in ${(ms / 1000).toFixed(1)} s: ${ssh} SSH server(s), ${other} other open port(s), ${scanned - ssh - other} closed or silent\n`,
  );
}
