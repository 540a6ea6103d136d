/**
 * Proposes a change to one file as a new branch on top of HEAD, written object
 * by object like the records writer (blob, trees along the path, commit, ref
 * created with compare-and-swap), so it can be reviewed as a pull request. The
 * working tree and the current branch are not touched.
 */
import { userError } from "../core/errors.js";
import { GitRepository } from "../git/git-repository.js";
import { RefMovedError } from "../git/ref-lock.js";
import { DEFAULT_AUTHOR, type Signature } from "../git/author.js";

export interface ProposeOptions {
  repoDir: string;
  /** Repository-relative posix path of the file. */
  path: string;
  branch: string;
  message: string;
  /** Given the file's content at HEAD (undefined: absent), its new content; null: nothing to change. */
  update(existing: string | undefined): string | null;
  author?: Signature;
  now?: Date;
}

export interface ProposeResult {
  /** null when update() had nothing to change (no branch was created). */
  commit: string | null;
  base: string;
}

export async function proposeOnBranch(opts: ProposeOptions): Promise<ProposeResult> {
  const repo = GitRepository.at(opts.repoDir);
  const ref = `refs/heads/${opts.branch}`;
  if (!isBranchName(opts.branch)) {
    throw userError("discover.bad-branch", `"${opts.branch}" is not a branch name`, {
      hint: "letters, digits, `.`, `_`, `-` and `/` between parts, e.g. discover/2026-11-22",
    });
  }
  if (await repo.readRef(ref)) {
    throw userError("discover.branch-exists", `branch ${opts.branch} already exists`, {
      hint: "pick a new name with --branch; the proposal is always a new branch on top of HEAD",
    });
  }
  const base = await repo.readRef("HEAD");
  if (!base)
    throw userError("discover.no-head", "the repository has no commit yet", {
      hint: "commit something first",
    });
  const head = await repo.readCommit(base);
  const entry = await repo.entryAt(head.tree, opts.path);
  const existing = entry && entry.type === "blob" ? await repo.readBlobText(entry.oid) : undefined;
  const text = opts.update(existing);
  if (text === null || text === existing) return { commit: null, base };
  const tree = await repo.writeTreeWith(head.tree, [{ path: opts.path, content: text }]);
  const author = opts.author ?? DEFAULT_AUTHOR;
  const when = opts.now ?? new Date();
  const stamp = { ...author, timestamp: Math.floor(when.getTime() / 1000), timezoneOffset: 0 };
  const commit = await repo.writeCommit({
    message: opts.message.endsWith("\n") ? opts.message : `${opts.message}\n`,
    tree,
    parent: [base],
    author: stamp,
    committer: stamp,
  });
  try {
    await repo.compareAndSwapRef(ref, null, commit);
  } catch (e) {
    if (e instanceof RefMovedError) {
      throw userError("discover.branch-exists", `branch ${opts.branch} was created while discovery ran`, {
        hint: "pick another name with --branch",
      });
    }
    throw e;
  }
  return { commit, base };
}

/** A conservative subset of git-check-ref-format. */
export function isBranchName(name: string): boolean {
  return (
    /^[A-Za-z0-9._/-]+$/.test(name) &&
    !name.includes("..") &&
    !name.includes("//") &&
    !/^[/.-]|[/.]$|\.lock$|\/\./.test(name)
  );
}
