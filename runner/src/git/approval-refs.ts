/**
 * Approvals as refs on the records remote (`origin`):
 * `refs/opsconductor/approvals/<job>/<plan hash>/sha256-<key fingerprint, hex>`,
 * each a commit whose tree holds `signature` (the armored SSH signature) and
 * `plan.json` (the canonical text the plan hash is the SHA-256 of, no newline), so a
 * signature can be checked offline with nothing but git and ssh-keygen. Without
 * an HTTP(S) origin the refs live in the local repository only.
 */
import { createHash } from "node:crypto";
import { errorText } from "../core/error-text.js";
import { environmentError } from "../core/errors.js";
import type { FoundSignature } from "../core/count-approvals.js";
import { DEFAULT_AUTHOR } from "./author.js";
import { displayUrl } from "./display-url.js";
import { GitRepository } from "./git-repository.js";
import { authFromEnv, isHttpUrl } from "./remote-auth.js";

export const APPROVALS_PREFIX = "refs/opsconductor/approvals";

function clean(component: string): string {
  return (
    component
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[.-]+/, "")
      .replace(/\.lock$/, "-lock")
      .slice(0, 120) || "_"
  );
}

/** The folder of a plan's approvals (no trailing slash). */
export function approvalsPrefix(job: string, planHash: string): string {
  return `${APPROVALS_PREFIX}/${job.split("/").map(clean).join("/")}/${clean(planHash)}`;
}

/** One signer's approval of a plan, named by the SHA-256 of their public key blob. */
export function approvalRef(job: string, planHash: string, publicKey: Buffer): string {
  return `${approvalsPrefix(job, planHash)}/sha256-${createHash("sha256").update(publicKey).digest("hex")}`;
}

export type PublishStatus =
  /** Pushed to origin. */
  | "pushed"
  /** origin already holds this signer's approval of this plan. */
  | "exists"
  /** No HTTP(S) origin: kept in the local repository. */
  | "local";

export async function publishApproval(options: {
  gitdir: string;
  ref: string;
  signature: string;
  planText: string;
  message: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ status: PublishStatus; remote?: string }> {
  const repo = new GitRepository(options.gitdir);
  const tree = await repo.writeTreeWith(null, [
    { path: "plan.json", content: options.planText },
    { path: "signature", content: options.signature },
  ]);
  const now = Math.floor(Date.now() / 1000);
  const who = { ...DEFAULT_AUTHOR, timestamp: now, timezoneOffset: 0 };
  const oid = await repo.writeCommit({
    tree,
    parent: [],
    author: who,
    committer: who,
    message: options.message,
  });
  const url = await repo.remoteUrl("origin");
  if (!url || !isHttpUrl(url)) {
    await repo.writeRef(options.ref, oid);
    return { status: "local", ...(url ? { remote: displayUrl(url) } : {}) };
  }
  const onAuth = authFromEnv(options.env);
  const shown = displayUrl(url);
  try {
    const held = await GitRepository.listServerRefs(url, {
      prefix: options.ref,
      ...(onAuth ? { onAuth } : {}),
    });
    if (held.some((r) => r.ref === options.ref)) return { status: "exists", remote: shown };
    await repo.writeRef(options.ref, oid);
    const result = await repo.push({
      url,
      ref: options.ref,
      remoteRef: options.ref,
      ...(onAuth ? { onAuth } : {}),
    });
    const refused = result.refs[options.ref]?.error ?? result.error;
    if (!result.ok || refused) throw new Error(refused ?? "the push was refused");
  } catch (e) {
    throw environmentError("approve.push-failed", `cannot push the approval to ${shown}: ${errorText(e)}`, {
      hint: `the token needs push access to ${APPROVALS_PREFIX}/*; the signature is kept locally as ${options.ref}`,
      cause: e,
    });
  }
  return { status: "pushed", remote: shown };
}

/** The signatures stored below `prefix`: on origin when it is HTTP(S), else in the local repository. */
/** Refs not named after a listed key that are still read, for the refusal message. */
export const MAX_UNLISTED_APPROVALS = 20;

/**
 * The signatures under `prefix`. Refs named after a key in `listedKeys` are all
 * read; of the others (a key not listed, or a name that is not a key's) at most
 * MAX_UNLISTED_APPROVALS, so refs planted by anyone with push access cannot make
 * a run read without end. What is left unread is counted in `unread`.
 */
export async function readApprovals(options: {
  gitdir: string;
  prefix: string;
  /** Public key blobs of the signers file: their refs are always read. */
  listedKeys?: readonly Buffer[];
  env?: NodeJS.ProcessEnv;
}): Promise<{ found: FoundSignature[]; from: string; unread: number }> {
  const repo = new GitRepository(options.gitdir);
  const url = await repo.remoteUrl("origin");
  const listed = new Set(
    (options.listedKeys ?? []).map(
      (k) => `${options.prefix}/sha256-${createHash("sha256").update(k).digest("hex")}`,
    ),
  );
  const pick = <T extends { ref: string }>(all: T[]): { read: T[]; unread: number } => {
    const others = all.filter((r) => !listed.has(r.ref));
    return {
      read: [...all.filter((r) => listed.has(r.ref)), ...others.slice(0, MAX_UNLISTED_APPROVALS)],
      unread: Math.max(0, others.length - MAX_UNLISTED_APPROVALS),
    };
  };
  const found: FoundSignature[] = [];
  if (!url || !isHttpUrl(url)) {
    const { read, unread } = pick((await repo.listRefs(options.prefix)).map((ref) => ({ ref })));
    for (const { ref } of read) {
      const oid = await repo.readRef(ref);
      if (oid) found.push({ from: ref, text: await signatureAt(repo, oid) });
    }
    return { found, from: "the local repository", unread };
  }
  const onAuth = authFromEnv(options.env);
  const shown = displayUrl(url);
  let unread: number;
  try {
    const picked = pick(
      await GitRepository.listServerRefs(url, {
        prefix: `${options.prefix}/`,
        ...(onAuth ? { onAuth } : {}),
      }),
    );
    unread = picked.unread;
    for (const { ref, oid } of picked.read) {
      if ((await repo.objectType(oid)) === null) {
        await repo.fetch({ remote: "origin", ref, ...(onAuth ? { onAuth } : {}) });
      }
      found.push({ from: ref, text: await signatureAt(repo, oid) });
    }
  } catch (e) {
    throw environmentError("approval.unreachable", `cannot read the approvals on ${shown}: ${errorText(e)}`, {
      hint: `the runner needs read access to ${APPROVALS_PREFIX}/* on the records remote`,
      cause: e,
    });
  }
  return { found, from: shown, unread };
}

async function signatureAt(repo: GitRepository, oid: string): Promise<string> {
  if ((await repo.objectType(oid)) !== "commit") return "";
  const commit = await repo.readCommit(oid);
  const entry = await repo.entryAt(commit.tree, "signature");
  return entry?.type === "blob" ? repo.readBlobText(entry.oid) : "";
}
