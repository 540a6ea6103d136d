/**
 * The raw files of an automation repository, read from a folder or a Git
 * commit. The loader only ever sees this, so both sources give the same result.
 */
import type { DirtyTree } from "../core/plan-model.js";
import { YAML_LIMITS } from "../core/parse-yaml.js";

export interface RepoFiles {
  /** Repository-relative posix path -> content. Only paths `isRepoPath` accepts. */
  files: Map<string, Uint8Array>;
  /** The commit the files were read at, when read from Git (or a working tree identical to HEAD). */
  commit?: string;
  /** The branch the commit was read from, when known (`refs/heads/main`). */
  ref?: string;
  /** Read from a working tree whose automation files differ from HEAD. */
  dirty?: DirtyTree;
}

/** Folders whose files are part of the automation repository's model. */
export const KIND_FOLDERS = ["targets", "credentials", "steps", "jobs", "vars", "files"] as const;

/**
 * Larger files are reported, not parsed. Readers may stop reading one byte past
 * this, so a huge file never has to fit in memory.
 */
export const MAX_FILE_BYTES = YAML_LIMITS.maxBytes;

/** Top-level allowed_signers files a job's `approval.signers` may name (docs/approvals.md). */
export function isSignersPath(path: string): boolean {
  return /^(approvers|allowed_signers|[A-Za-z0-9._-]+\.allowed_signers)$/.test(path);
}

/**
 * Which paths a reader collects: everything under the kind folders (so misplaced
 * files can be reported), top-level YAML files, the library lock and allowed_signers
 * files. Other folders (docs, scripts, .github) are the user's business.
 */
export function isRepoPath(path: string): boolean {
  const slash = path.indexOf("/");
  if (slash < 0) return /\.ya?ml$/i.test(path) || path === "opsconductor.lock" || isSignersPath(path);
  const top = path.slice(0, slash);
  return (KIND_FOLDERS as readonly string[]).includes(top);
}

/** Whether a folder (posix, relative, no trailing slash) may hold paths `isRepoPath` accepts. */
export function isRepoFolder(path: string): boolean {
  const top = path.split("/")[0] ?? "";
  return (KIND_FOLDERS as readonly string[]).includes(top);
}
