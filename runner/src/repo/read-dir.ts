/**
 * Reads an automation repository from a working tree into RepoFiles.
 * Symbolic links are skipped, as a Git commit would hold only their target's
 * name: nothing read here can come from outside the repository.
 */
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errorText } from "../core/error-text.js";
import { boundedPool } from "../core/bounded-pool.js";
import { environmentError } from "../core/errors.js";
import { isRepoFolder, isRepoPath, MAX_FILE_BYTES, type RepoFiles } from "./repo-files.js";

export async function readRepoDir(root: string): Promise<RepoFiles> {
  const files = new Map<string, Uint8Array>();
  const wanted: string[] = [];
  await collect(root, "", wanted);
  wanted.sort();
  // Bounded concurrency: thousands of small files read faster in parallel, but not all at once.
  await boundedPool(wanted, 16, async (rel) => {
    files.set(rel, await readCapped(join(root, rel)));
  });
  const sorted = new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { files: sorted };
}

async function collect(root: string, rel: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
  } catch (e) {
    throw environmentError("repo.unreadable", `cannot read ${rel || root}: ${errorText(e)}`, {
      hint: "check that the folder exists and is readable",
      cause: e,
    });
  }
  for (const entry of entries) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (isRepoFolder(path)) await collect(root, path, out);
    } else if (entry.isFile() && isRepoPath(path)) {
      out.push(path);
    }
  }
}

/** Reads at most MAX_FILE_BYTES + 1 bytes: enough for the loader to tell the file is too large. */
async function readCapped(path: string): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_FILE_BYTES + 1);
    const buf = Buffer.alloc(length);
    let at = 0;
    while (at < length) {
      const { bytesRead } = await handle.read(buf, at, length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, at);
  } finally {
    await handle.close();
  }
}
