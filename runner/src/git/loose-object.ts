/**
 * Writes blobs, trees and byte-exact objects as loose objects with Node's own
 * zlib and SHA-1. isomorphic-git deflates through web CompressionStreams (the
 * first loads undici and the web streams, each object then costs a stream
 * pipeline) and wraps the file system anew on every call; a run writes some 70
 * small objects (its lease commits, the record's blobs and trees). The
 * content, and so the id, is byte for byte what git and isomorphic-git write;
 * the file is written as git does: level-1 deflate (core.looseCompression), a
 * temporary file renamed into place, read-only.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { constants, deflateSync } from "node:zlib";
import type { TreeEntry } from "isomorphic-git";

export type LooseType = "commit" | "tree" | "blob";

export async function writeLooseObject(
  gitdir: string,
  type: LooseType,
  content: Uint8Array,
): Promise<string> {
  const wrapped = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  const oid = createHash("sha1").update(wrapped).digest("hex");
  const dir = path.join(gitdir, "objects", oid.slice(0, 2));
  const file = path.join(dir, oid.slice(2));
  // Objects are immutable: one already there (loose) is the same bytes.
  if (await exists(file)) return oid;
  await fsp.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `tmp_obj_${randomBytes(6).toString("hex")}`);
  try {
    await fsp.writeFile(temp, deflateSync(wrapped, { level: constants.Z_BEST_SPEED }), {
      flag: "wx",
      mode: 0o444,
    });
    await fsp.rename(temp, file);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw e;
  }
  return oid;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** A tree object's content, as isomorphic-git's GitTree writes it. */
function treeContent(entries: TreeEntry[]): Buffer {
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
