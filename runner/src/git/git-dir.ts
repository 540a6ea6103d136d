/**
 * Finds the git directory of an automation repository: `.git` of a working
 * tree, the file form `.git: gitdir: ...` of worktrees, or a bare repository.
 */
import fs from "node:fs";
import path from "node:path";
import { userError } from "../core/errors.js";

export function findGitDir(repoDir: string): string {
  const dotGit = path.join(repoDir, ".git");
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dotGit);
  } catch {
    stat = undefined;
  }
  if (stat?.isDirectory()) return dotGit;
  if (stat?.isFile()) {
    const m = /^gitdir:\s*(.+)$/m.exec(fs.readFileSync(dotGit, "utf8"));
    if (m?.[1]) return path.resolve(repoDir, m[1].trim());
  }
  if (fs.existsSync(path.join(repoDir, "HEAD")) && fs.existsSync(path.join(repoDir, "objects")))
    return repoDir;
  throw userError("git.not-a-repository", `${repoDir} is not a Git repository`, {
    hint: "records are committed to the automation repository: run `git init` there (or clone it) first",
  });
}
