/**
 * `opsc discover` as use cases: scan address ranges for SSH servers, turn the
 * servers found into targets with their host keys pinned, and merge them into
 * a targets file, in the working tree or committed on a new branch.
 */
import { discoveredTargets } from "../discover/discovered-targets.js";
import { expandAddresses } from "../discover/address-range.js";
import type { ProbeResult } from "../discover/probe-ssh.js";
import { scanAddresses } from "../discover/scan.js";
import { proposeOnBranch, type ProposeResult } from "../discover/commit-to-branch.js";
import { address, mergeTargets, type MergeResult, type NewTarget } from "../inventory/merge-targets.js";
import { readTargetsFile, writeTargetsFile } from "../inventory/targets-file.js";
import { loadRepo } from "../repo/load-repo.js";
import { readRepoDir } from "../repo/read-dir.js";
import { fingerprint, parsePinnedKey } from "../transports/host-key.js";
import { findRepoRoot } from "./workspace.js";

export type { MergeResult, ProbeResult };

export interface DiscoverRequest {
  cidrs: string[];
  /** Allow ranges larger than a /16. */
  force: boolean;
  port: number;
  concurrency: number;
  timeoutMs: number;
  /** Id prefix of new targets. */
  prefix: string;
  /** `--repo`; without it the working directory's repository, if there is one. */
  repo?: string;
  /** The repository must exist (the result is committed to it). */
  needsRepo: boolean;
}

export interface Discovery {
  /** The automation repository whose targets are known, if any. */
  root: string | undefined;
  /** Addresses of the repository's targets, to their ids. */
  known: Map<string, string>;
  /** How many addresses were probed. */
  scanned: number;
  results: ProbeResult[];
  /** The SSH servers found, as new targets. */
  additions: NewTarget[];
  ms: number;
}

/** Probes every address of the ranges; nothing logs in. A bad range fails before any probe. */
export async function discoverHosts(request: DiscoverRequest): Promise<Discovery> {
  const addresses = expandAddresses(request.cidrs, { force: request.force });
  const root = request.repo !== undefined || request.needsRepo ? findRepoRoot(request.repo) : tryRepoRoot();
  const known = root ? await knownAddresses(root) : new Map<string, string>();
  const started = Date.now();
  const results = await scanAddresses(addresses, {
    port: request.port,
    concurrency: request.concurrency,
    timeoutMs: request.timeoutMs,
  });
  const additions = discoveredTargets(results, { prefix: request.prefix, now: new Date() });
  return { root, known, scanned: addresses.length, results, additions, ms: Date.now() - started };
}

const HEADER =
  " Found by `opsc discover`. Verify each host key out of band before merging (docs/discovery.md).";

/**
 * Merges what `discovery` found into the targets file `file` (comments and
 * entries kept): in the working tree, or with `branch` as a commit on a new
 * branch of the repository (`file` is then a path inside it). Nothing is
 * written or committed when nothing is new.
 */
export async function writeDiscoveredTargets(
  discovery: Discovery,
  request: { file: string; branch?: string; cidrs: string[] },
): Promise<{ result: MergeResult; proposed?: ProposeResult }> {
  const merge = (existing: string | undefined): MergeResult =>
    mergeTargets(existing, discovery.additions, {
      file: request.file,
      header: HEADER,
      known: discovery.known,
    });
  if (request.branch) {
    let result: MergeResult | undefined;
    const proposed = await proposeOnBranch({
      repoDir: discovery.root as string,
      path: request.file,
      branch: request.branch,
      message: `discover: ${discovery.additions.length} SSH server(s) in ${request.cidrs.join(" ")}\n\nFound by opsc discover; verify the pinned host keys before merging.`,
      update: (existing) => {
        result = merge(existing);
        return result.added.length > 0 ? result.text : null;
      },
    });
    return { result: result as MergeResult, proposed };
  }
  const result = merge(readTargetsFile(request.file));
  if (result.added.length > 0) writeTargetsFile(request.file, result.text);
  return { result };
}

/** The host keys a server presented, as `type SHA256:...` fingerprints. */
export function hostKeyFingerprints(hostKeys: string[]): string[] {
  return hostKeys
    .map((k) => parsePinnedKey(k))
    .filter((k) => k !== null)
    .map((k) => `${k.type} ${fingerprint(k.blob)}`);
}

function tryRepoRoot(): string | undefined {
  try {
    return findRepoRoot();
  } catch {
    return undefined;
  }
}

/** Addresses of every target in the repository, so a host already known under another name is not added twice. */
async function knownAddresses(root: string): Promise<Map<string, string>> {
  const { model } = loadRepo(await readRepoDir(root));
  const out = new Map<string, string>();
  for (const t of model.targets.values()) if (t.host) out.set(address(t.host, t.port), t.id);
  return out;
}
