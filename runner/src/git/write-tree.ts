/**
 * Adds files to a tree object by object: new blobs, and new trees only along
 * the changed paths; every other subtree is reused by id. The cost follows the
 * depth of the paths written, not the size of the repository (DESIGN.md section 3).
 */
import { gitFs as fs } from "./git-fs.js";
import git, { type TreeEntry } from "isomorphic-git";
import { writeLooseObject, writeTreeObject } from "./loose-object.js";

/** A file's content, or an existing tree to graft whole (a run directory moved onto a new tip). */
export type TreeInput = { path: string; content: Uint8Array | string } | { path: string; tree: string };

interface Node {
  files: Map<string, { oid: string; mode: string; type: "blob" | "tree" }>;
  dirs: Map<string, Node>;
}

export async function writeTreeWith(
  gitdir: string,
  baseTree: string | null,
  inputs: TreeInput[],
  cache: object,
): Promise<string> {
  const root: Node = { files: new Map(), dirs: new Map() };
  // Blobs are written all at once: each is a few file operations waiting on the disk.
  const writes: Array<Promise<void>> = [];
  for (const input of inputs) {
    const parts = input.path.split("/");
    if (parts.some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
      throw new Error(`refusing to write path "${input.path}" into a tree`);
    }
    const name = parts.pop() as string;
    let node = root;
    for (const part of parts) {
      let next = node.dirs.get(part);
      if (!next) node.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      node = next;
    }
    if ("tree" in input) {
      node.files.set(name, { oid: input.tree, mode: "040000", type: "tree" });
    } else {
      const blob = typeof input.content === "string" ? Buffer.from(input.content, "utf8") : input.content;
      const file = { oid: "", mode: "100644", type: "blob" as const };
      node.files.set(name, file);
      writes.push(
        writeLooseObject(gitdir, "blob", blob).then((oid) => {
          file.oid = oid;
        }),
      );
    }
  }
  await Promise.all(writes);
  return writeNode(gitdir, baseTree, root, cache);
}

async function writeNode(gitdir: string, base: string | null, node: Node, cache: object): Promise<string> {
  const entries = new Map<string, TreeEntry>();
  if (base) {
    const { tree } = await git.readTree({ fs, gitdir, oid: base, cache });
    for (const e of tree) entries.set(e.path, e);
  }
  const subtrees = await Promise.all(
    [...node.dirs].map(async ([name, sub]) => {
      const existing = entries.get(name);
      const subBase = existing?.type === "tree" ? existing.oid : null;
      return { name, oid: await writeNode(gitdir, subBase, sub, cache) };
    }),
  );
  for (const { name, oid } of subtrees) entries.set(name, { mode: "040000", path: name, oid, type: "tree" });
  for (const [name, f] of node.files)
    entries.set(name, { mode: f.mode, path: name, oid: f.oid, type: f.type });
  return writeTreeObject(gitdir, [...entries.values()]);
}

/** The entry at `path` inside a tree, or null. Reads only the trees along the path. */
export async function entryAt(
  gitdir: string,
  tree: string,
  path: string,
  cache: object,
): Promise<TreeEntry | null> {
  let oid = tree;
  const parts = path.split("/");
  for (const [i, part] of parts.entries()) {
    const { tree: entries } = await git.readTree({ fs, gitdir, oid, cache });
    const hit = entries.find((e) => e.path === part);
    if (!hit) return null;
    if (i === parts.length - 1) return hit;
    if (hit.type !== "tree") return null;
    oid = hit.oid;
  }
  return null;
}

/** Names in the tree at `path` ("" for the root), or [] when absent. */
export async function listTree(
  gitdir: string,
  tree: string,
  path: string,
  cache: object,
): Promise<TreeEntry[]> {
  if (path === "") return (await git.readTree({ fs, gitdir, oid: tree, cache })).tree;
  const entry = await entryAt(gitdir, tree, path, cache);
  if (!entry || entry.type !== "tree") return [];
  return (await git.readTree({ fs, gitdir, oid: entry.oid, cache })).tree;
}

export async function readBlobText(gitdir: string, oid: string, cache: object): Promise<string> {
  const { blob } = await git.readBlob({ fs, gitdir, oid, cache });
  return Buffer.from(blob).toString("utf8");
}
