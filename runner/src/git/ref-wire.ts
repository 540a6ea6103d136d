/**
 * Small smart-HTTP exchanges for refs that hold one tiny commit each
 * (leases): read one commit by id without its history, and move refs from
 * exactly the values we read to new ones, many in one push. The old value travels in the
 * receive-pack command and the server checks it under the ref's lock, so the
 * update is a genuine compare-and-swap; isomorphic-git's push reads the old
 * value itself at push time, which is not.
 * Protocol: https://git-scm.com/docs/http-protocol, gitprotocol-pack.
 */
import { createHash } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import type { AuthCallback } from "isomorphic-git";
import { displayUrl } from "./display-url.js";
import { isRaceMessage, parseReport, pktLine } from "./push-new-objects.js";

const ZERO = "0".repeat(40);
/** The id of the empty tree every lease commit points at. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export type RefUpdateResult =
  | { kind: "updated" }
  /** The ref did not hold the expected value when the server looked. */
  | { kind: "moved"; reason: string }
  | { kind: "refused"; reason: string };

export class RefWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefWireError";
  }
}

/** One smart-HTTP service request (`git-receive-pack` or `git-upload-pack`); the answer's bytes. */
async function postService(
  url: string,
  service: "git-receive-pack" | "git-upload-pack",
  body: Uint8Array<ArrayBuffer>,
  onAuth: AuthCallback | undefined,
): Promise<Uint8Array> {
  // fetch() refuses a URL with credentials in it (`https://user:token@host/...`), which
  // git and isomorphic-git accept: they travel as Basic auth instead, as git sends them.
  const parsed = new URL(url.replace(/\/+$/, ""));
  let credentials: { username: string; password: string } | undefined;
  if (parsed.username || parsed.password) {
    credentials = {
      username: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
    };
    parsed.username = "";
    parsed.password = "";
  }
  const base = parsed.toString().replace(/\/+$/, "");
  const shown = displayUrl(base);
  const headers: Record<string, string> = {
    "User-Agent": "git/opsconductor",
    "Content-Type": `application/x-${service}-request`,
    Accept: `application/x-${service}-result`,
  };
  const auth = onAuth ? await onAuth(url, {}) : undefined;
  if (auth && typeof auth === "object" && "username" in auth)
    credentials = { username: auth.username ?? "", password: auth.password ?? "" };
  if (credentials) {
    headers.Authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
  }
  const res = await fetch(`${base}/${service}`, { method: "POST", headers, body });
  if (!res.ok) throw new RefWireError(`${shown}: HTTP ${res.status} ${res.statusText} on ${service}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The object id of `type` with `content`, as git computes it. */
export function objectId(type: "commit" | "tree" | "blob", content: Uint8Array): string {
  return createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest("hex");
}

/**
 * Sets `ref` on the server to `next` (null: delete) if it holds `expected`
 * (null: absent), sending `objects` (a commit and its empty tree) with it.
 */
export async function updateRemoteRef(options: {
  url: string;
  ref: string;
  expected: string | null;
  next: string | null;
  objects?: Array<{ type: "commit" | "tree"; content: Uint8Array }>;
  onAuth?: AuthCallback | undefined;
}): Promise<RefUpdateResult> {
  const { ref, expected, next, ...rest } = options;
  const results = await updateRemoteRefs({ ...rest, updates: [{ ref, expected, next }] });
  return results.get(ref)!;
}

export interface RefUpdate {
  ref: string;
  expected: string | null;
  /** null: delete the ref. */
  next: string | null;
}

/**
 * Many compare-and-swaps in one push: one receive-pack command per ref, each
 * with its own old value. Without the `atomic` capability the server applies
 * or refuses each ref on its own and report-status says which, so one round
 * trip takes every ref that was where we read it and names the ones that moved.
 */
export async function updateRemoteRefs(options: {
  url: string;
  updates: RefUpdate[];
  objects?: Array<{ type: "commit" | "tree"; content: Uint8Array }>;
  onAuth?: AuthCallback | undefined;
}): Promise<Map<string, RefUpdateResult>> {
  const results = new Map<string, RefUpdateResult>();
  if (options.updates.length === 0) return results;
  const deletes = options.updates.some((u) => u.next === null);
  const onlyDeletes = options.updates.every((u) => u.next === null);
  const caps = ["report-status", "agent=opsconductor", ...(deletes ? ["delete-refs"] : [])];
  const parts: Buffer[] = options.updates.map((u, i) =>
    pktLine(`${u.expected ?? ZERO} ${u.next ?? ZERO} ${u.ref}${i === 0 ? `\0${caps.join(" ")}` : ""}\n`),
  );
  parts.push(Buffer.from("0000"));
  // A push of deletions only carries no pack (gitprotocol-pack).
  if (!onlyDeletes) parts.push(buildPack(options.objects ?? []));
  const answer = await postService(options.url, "git-receive-pack", Buffer.concat(parts), options.onAuth);
  const report = parseReport(answer, false);
  for (const u of options.updates) {
    if (!onlyDeletes && report.unpack !== "ok") {
      results.set(u.ref, {
        kind: "refused",
        reason: `the server could not unpack: ${report.unpack ?? "no report"}`,
      });
      continue;
    }
    const status = report.refs.get(u.ref);
    if (status === "ok") results.set(u.ref, { kind: "updated" });
    else if (status === undefined)
      results.set(u.ref, { kind: "refused", reason: "the server sent no status for the ref" });
    // The server says so when the ref is not at the old value we sent.
    else if (isRaceMessage(status) || /expected|already exists|old value|lock/i.test(status))
      results.set(u.ref, { kind: "moved", reason: status });
    else results.set(u.ref, { kind: "refused", reason: status });
  }
  return results;
}

/** The raw content of commit `oid` from the server, without its parents (`deepen 1`). */
export async function fetchCommit(options: {
  url: string;
  oid: string;
  onAuth?: AuthCallback | undefined;
}): Promise<Buffer> {
  // For messages only: a URL's credentials never reach an error.
  const base = displayUrl(options.url.replace(/\/+$/, ""));
  const body = Buffer.concat([
    pktLine(`want ${options.oid} shallow no-progress agent=opsconductor\n`),
    pktLine("deepen 1\n"),
    Buffer.from("0000"),
    pktLine("done\n"),
  ]);
  const data = Buffer.from(await postService(options.url, "git-upload-pack", body, options.onAuth));
  const pack = packAfterNak(data);
  if (!pack) throw new RefWireError(`${base}: no pack in the answer for ${options.oid}`);
  const content = firstCommitOf(pack);
  // The id proves the bytes: whatever the server sent, we read exactly the commit we asked for.
  if (objectId("commit", content) !== options.oid)
    throw new RefWireError(`${base}: the server sent another object than ${options.oid}`);
  return content;
}

/** Skips the shallow-info section and the NAK; the rest is the pack. */
function packAfterNak(data: Buffer): Buffer | null {
  let at = 0;
  while (at + 4 <= data.length) {
    if (data.subarray(at, at + 4).toString("latin1") === "PACK") return data.subarray(at);
    const len = Number.parseInt(data.subarray(at, at + 4).toString("latin1"), 16);
    if (Number.isNaN(len)) return null;
    if (len === 0) {
      at += 4;
      continue;
    }
    const line = data.subarray(at + 4, at + len).toString("latin1");
    at += len;
    if (line.startsWith("NAK") || line.startsWith("ACK")) {
      return data.subarray(at, at + 4).toString("latin1") === "PACK" ? data.subarray(at) : null;
    }
  }
  return null;
}

const TYPE_COMMIT = 1;
const TYPE_TREE = 2;

/** The first object of a pack, which must be a whole (undeltified) commit: git writes commits first. */
function firstCommitOf(pack: Buffer): Buffer {
  let at = 12;
  let c = pack[at++]!;
  const type = (c >> 4) & 7;
  let size = c & 15;
  let shift = 4;
  while (c & 0x80) {
    c = pack[at++]!;
    size += (c & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (type !== TYPE_COMMIT) throw new RefWireError(`the pack starts with an object of type ${type}`);
  const content = inflateSync(pack.subarray(at));
  if (content.length !== size) throw new RefWireError("the pack's commit has the wrong size");
  return content;
}

/** A pack of whole objects (no deltas): enough for a commit and its empty tree. */
function buildPack(objects: Array<{ type: "commit" | "tree"; content: Uint8Array }>): Buffer {
  const header = Buffer.alloc(12);
  header.write("PACK", 0, "latin1");
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(objects.length, 8);
  const parts: Buffer[] = [header];
  for (const o of objects) {
    const type = o.type === "commit" ? TYPE_COMMIT : TYPE_TREE;
    let size = o.content.length;
    const bytes: number[] = [];
    let byte = (type << 4) | (size & 15);
    size = Math.floor(size / 16);
    while (size > 0) {
      bytes.push(byte | 0x80);
      byte = size & 0x7f;
      size = Math.floor(size / 128);
    }
    bytes.push(byte);
    parts.push(Buffer.from(bytes), deflateSync(o.content));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash("sha1").update(body).digest()]);
}
