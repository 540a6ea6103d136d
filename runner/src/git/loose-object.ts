/**
 * Writes blobs, trees and byte-exact objects as loose objects with Node's own
 * zlib and SHA-1, handing isomorphic-git the deflated bytes to store. Its own
 * path deflates through web CompressionStreams: the first one loads undici and
 * the web streams, and each object then costs a stream pipeline, for the ~70
 * small objects of a run (its lease commits, the record's blobs and trees).
 * The bytes, and so the ids, are the ones isomorphic-git (and git) write.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { deflateSync } from "node:zlib";
import git, { type TreeEntry } from "isomorphic-git";

export type LooseType = "commit" | "tree" | "blob";

export async function writeLooseObject(
  gitdir: string,
  type: LooseType,
  content: Uint8Array,
): Promise<string> {
  const wrapped = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  const oid = createHash("sha1").update(wrapped).digest("hex");
  await git.writeObject({ fs, gitdir, type, object: deflateSync(wrapped), format: "deflated", oid });
  return oid;
}

/** A tree object's content, as isomorphic-git's GitTree writes it. */
export function treeContent(entries: TreeEntry[]): Buffer {
  const shaped = entries.map((e) => ({ ...e, mode: treeMode(e.mode) }));
  // Git sorts entries as if a directory's name ended in "/".
  const key = (e: { mode: string; path: string }): string => (e.mode === "040000" ? `${e.path}/` : e.path);
  shaped.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return Buffer.concat(
    shaped.map((e) =>
      Buffer.concat([
        Buffer.from(`${e.mode.replace(/^0/, "")} ${e.path}\0`, "utf8"),
        Buffer.from(e.oid, "hex"),
      ]),
    ),
  );
}

/** The modes a tree may hold, as isomorphic-git normalises them. */
function treeMode(mode: string): string {
  if (/^0?4/.test(mode)) return "040000";
  if (/^1006/.test(mode)) return "100644";
  if (/^1007/.test(mode)) return "100755";
  if (/^120/.test(mode)) return "120000";
  if (/^160/.test(mode)) return "160000";
  throw new Error(`cannot write a tree entry with mode ${mode}`);
}

export function writeTreeObject(gitdir: string, entries: TreeEntry[]): Promise<string> {
  return writeLooseObject(gitdir, "tree", treeContent(entries));
}
