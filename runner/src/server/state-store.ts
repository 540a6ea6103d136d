/**
 * The server's state directory: which deliveries were seen (so each runs once,
 * also across restarts), the journal of accepted work, and finished items for
 * `GET /api/runs`. Every write is a whole file written aside and renamed, so a
 * crash never leaves half a file; a delivery is marked by exclusive creation.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import type { WorkItem } from "./work-item.js";

export interface InboxEntry {
  /** Dedupe key: `github-<delivery id>`. */
  key: string;
  delivery: string;
  event: "push" | "repository_dispatch";
  receivedAt: string;
  /** Only the fields used: ref, before, after, pusher, pushKey (what was pushed); action, branch, client_payload. */
  payload: Record<string, unknown>;
}

/** Finished items kept for the API; older ones are pruned (the records branch keeps everything). */
const KEEP_FINISHED = 500;

export class StateStore {
  readonly root: string;
  private readonly deliveries: string;
  private readonly journal: string;
  private readonly history: string;
  private readonly inboxDir: string;

  constructor(root: string) {
    this.root = root;
    this.deliveries = join(root, "deliveries");
    this.journal = join(root, "journal");
    this.history = join(root, "history");
    this.inboxDir = join(root, "inbox");
    for (const d of [this.deliveries, this.journal, this.history, this.inboxDir])
      mkdirSync(d, { recursive: true });
  }

  /**
   * True the first time a delivery key is seen, false ever after. Exclusive
   * creation makes it atomic between concurrent requests and processes.
   */
  markDelivery(key: string): boolean {
    const file = join(this.deliveries, safeName(key));
    try {
      closeSync(openSync(file, "wx"));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  }

  /** Undo a mark when the delivery could not be accepted, so a redelivery can try again. */
  unmarkDelivery(key: string): void {
    rmSync(join(this.deliveries, safeName(key)), { force: true });
  }

  /** Journal an item (queued or running). */
  save(item: WorkItem): void {
    writeFileAtomic(join(this.journal, `${safeName(item.id)}.json`), JSON.stringify(item));
  }

  /** Move an item out of the journal into the history. */
  finish(item: WorkItem): void {
    writeFileAtomic(
      join(this.history, `${item.finishedAt ?? new Date().toISOString()}_${safeName(item.id)}.json`),
      JSON.stringify(item),
    );
    rmSync(join(this.journal, `${safeName(item.id)}.json`), { force: true });
    this.prune();
  }

  /** Items accepted but not finished when the last process stopped. */
  journaled(): WorkItem[] {
    return readItems(this.journal).sort((a, b) =>
      a.acceptedAt < b.acceptedAt ? -1 : a.acceptedAt > b.acceptedAt ? 1 : 0,
    );
  }

  /** Finished items, newest first. */
  finished(limit = KEEP_FINISHED): WorkItem[] {
    const names = readdirSync(this.history)
      .filter((n) => n.endsWith(".json"))
      .sort()
      .reverse()
      .slice(0, limit);
    return names.flatMap((n) => readItem(join(this.history, n)));
  }

  /** Deliveries accepted but not yet turned into work items (fetch and matching happen after the answer). */
  saveInbox(entry: InboxEntry): void {
    writeFileAtomic(join(this.inboxDir, `${safeName(entry.key)}.json`), JSON.stringify(entry));
  }

  removeInbox(key: string): void {
    rmSync(join(this.inboxDir, `${safeName(key)}.json`), { force: true });
  }

  inbox(): InboxEntry[] {
    return readdirSync(this.inboxDir)
      .filter((n) => n.endsWith(".json"))
      .flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(this.inboxDir, n), "utf8")) as InboxEntry];
        } catch {
          return [];
        }
      })
      .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0));
  }

  /** A small JSON value by name (scheduler bookkeeping). */
  readValue<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.root, `${safeName(name)}.json`), "utf8")) as T;
    } catch {
      return undefined;
    }
  }

  writeValue(name: string, value: unknown): void {
    writeFileAtomic(join(this.root, `${safeName(name)}.json`), JSON.stringify(value));
  }

  private prune(): void {
    const names = readdirSync(this.history)
      .filter((n) => n.endsWith(".json"))
      .sort();
    for (const n of names.slice(0, Math.max(0, names.length - KEEP_FINISHED)))
      rmSync(join(this.history, n), { force: true });
  }
}

/** File names from untrusted keys (delivery ids come from HTTP headers): readable when safe, hashed otherwise. */
function safeName(key: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(key)) return key;
  return `h-${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
}

function readItems(dir: string): WorkItem[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .flatMap((n) => readItem(join(dir, n)));
}

function readItem(file: string): WorkItem[] {
  try {
    return [JSON.parse(readFileSync(file, "utf8")) as WorkItem];
  } catch {
    return []; // a file removed between readdir and read, or not ours
  }
}
