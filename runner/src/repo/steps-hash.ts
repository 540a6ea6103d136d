/**
 * The hash opsconductor.lock keeps of a library's steps: SHA-256 over the
 * sorted lines `<path>\0<git blob id>\n` of every file under `steps/`. The
 * blob ids are computed from the content read, not taken from the tree, so a
 * damaged cache cannot pass for what was locked.
 */
import { createHash } from "node:crypto";

export function gitBlobId(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

export function stepsHash(files: ReadonlyMap<string, Uint8Array>): string {
  const h = createHash("sha256");
  for (const path of [...files.keys()].sort()) h.update(`${path}\0${gitBlobId(files.get(path)!)}\n`);
  return `sha256:${h.digest("hex")}`;
}
