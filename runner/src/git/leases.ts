/**
 * Leases: a ref (`refs/opsconductor/locks/<target>`, `refs/opsconductor/claims/...`)
 * pointing at a small commit that says who holds it and until when. Every
 * change is a compare-and-swap from the commit last read, so the Git server
 * (or, in a local repository, git's own ref lock) is the only arbiter:
 *
 * - acquire a free lease: create the ref (it must not exist), or put a child
 *   on a released one;
 * - take over an expired lease: a child of the expired commit; two takers
 *   both build on the same commit, the server lets one through;
 * - renew: a child of our own current commit; when the ref moved, the lease
 *   was lost (we stalled past the expiry and someone took it);
 * - release: delete the ref from the commit we hold (a `released` child in
 *   a local repository); done: a `done` child that stays, so finished work is
 *   never taken over.
 *
 * Expiry compares the holder's clock (written in the commit) with the
 * reader's: replicas need clocks within a fraction of the lease duration.
 */
import { randomBytes } from "node:crypto";
import { environmentError } from "../core/errors.js";
import { DEFAULT_AUTHOR } from "./author.js";
import { GitRepository } from "./git-repository.js";
import { RefMovedError } from "./ref-lock.js";
import { authFromEnv, type AuthCallback } from "./remote-auth.js";
import { EMPTY_TREE, fetchCommit, objectId, updateRemoteRef, updateRemoteRefs } from "./ref-wire.js";

export const DEFAULT_LEASE_MS = 60_000;

export type LeaseState = "held" | "released" | "done";

export interface LeaseInfo {
  state: LeaseState;
  /** What holds it: a run id for a target lock, the claiming replica's work for a claim. */
  holder: string;
  replica: string;
  acquiredAt: string;
  renewedAt: string;
  expiresAt: string;
  renewals: number;
  /** The holder whose expired lease this one took over. */
  takenOverFrom?: { holder: string; replica: string };
}

export interface LeaseRecord {
  ref: string;
  oid: string;
  info: LeaseInfo;
}

export type AcquireResult =
  | { kind: "acquired"; lease: HeldLease }
  /** Someone else holds it and it has not expired. */
  | { kind: "held"; by: LeaseRecord }
  /** The work it guards was finished (claims). */
  | { kind: "done"; by: LeaseRecord };

/** One lease move of a batch: to `next`, or, with `release`, freed (`next` is then the released commit). */
export interface LeaseMove {
  ref: string;
  expected: string | null;
  next: Uint8Array;
  release?: boolean;
}

type RawLease = { oid: string; content: Uint8Array } | null;

/** Where lease refs live: the records remote over smart HTTP, or a local repository. */
export interface LeaseBackend {
  read(ref: string): Promise<RawLease>;
  /** Moves `ref` from `expected` to `next`; false when it did not hold `expected`. */
  update(ref: string, expected: string | null, next: Uint8Array): Promise<boolean>;
  /** Frees the lease held at `expected` (`released` is the commit to use where refs are not deleted). */
  release(ref: string, expected: string, released: Uint8Array): Promise<boolean>;
  /** Reads many leases at once (remote: one ref listing). */
  readMany(refs: string[]): Promise<Map<string, RawLease>>;
  /** Many independent compare-and-swaps at once (remote: one push); true for each ref that moved. */
  updateMany(moves: LeaseMove[]): Promise<Map<string, boolean>>;
  readonly where: string;
}

/** The longest common prefix of ref names, cut back to a whole path component when they differ. */
function commonPrefix(refs: string[]): string {
  let prefix = refs[0] ?? "";
  for (const r of refs) while (!r.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return refs.length > 1 ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : prefix;
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class RemoteLeaseBackend implements LeaseBackend {
  /** Commits are immutable: a waiter polling an unchanged lease asks for its content once. */
  private readonly seen = new Map<string, Uint8Array>();

  constructor(
    private readonly url: string,
    private readonly onAuth: AuthCallback | undefined = authFromEnv(),
  ) {}

  get where(): string {
    return "remote";
  }

  async read(ref: string): Promise<RawLease> {
    return (await this.readMany([ref])).get(ref) ?? null;
  }

  /**
   * One listing of the refs under the common prefix; the commits not seen yet
   * are fetched a few at a time. A lease freed between the listing and the
   * fetch is no longer served: the listing is then read again.
   */
  async readMany(refs: string[]): Promise<Map<string, RawLease>> {
    const result = new Map<string, RawLease>();
    if (refs.length === 0) return result;
    for (let attempt = 0; ; attempt++) {
      const listed = await GitRepository.listServerRefs(this.url, {
        prefix: commonPrefix(refs),
        ...(this.onAuth ? { onAuth: this.onAuth } : {}),
      });
      const oids = new Map(listed.map((r) => [r.ref, r.oid]));
      const missing = [...new Set(refs.map((r) => oids.get(r)))].filter(
        (oid): oid is string => oid !== undefined && !this.seen.has(oid),
      );
      const fetched = new Map<string, Uint8Array>();
      let failure: unknown;
      await eachLimited(missing, 8, async (oid) => {
        try {
          fetched.set(oid, await fetchCommit({ url: this.url, oid, onAuth: this.onAuth }));
        } catch (e) {
          failure ??= e;
        }
      });
      for (const ref of refs) {
        const oid = oids.get(ref);
        const known = oid === undefined ? undefined : this.seen.get(oid);
        if (known !== undefined) fetched.set(oid!, known);
      }
      if (this.seen.size + fetched.size > 256) this.seen.clear();
      for (const [oid, content] of fetched) this.seen.set(oid, content);
      if (failure !== undefined) {
        if (attempt < 2) continue;
        throw failure;
      }
      for (const ref of refs) {
        const oid = oids.get(ref);
        const content = oid === undefined ? undefined : fetched.get(oid);
        result.set(ref, oid === undefined || content === undefined ? null : { oid, content });
      }
      return result;
    }
  }

  /** One push: each ref is its own compare-and-swap; released leases are deleted. */
  async updateMany(moves: LeaseMove[]): Promise<Map<string, boolean>> {
    const answers = new Map<string, boolean>();
    if (moves.length === 0) return answers;
    const kept = moves.filter((m) => !m.release);
    const results = await updateRemoteRefs({
      url: this.url,
      updates: moves.map((m) => ({
        ref: m.ref,
        expected: m.expected,
        next: m.release ? null : objectId("commit", m.next),
      })),
      objects: [
        ...kept.map((m) => ({ type: "commit" as const, content: m.next })),
        ...(kept.length ? [{ type: "tree" as const, content: new Uint8Array(0) }] : []),
      ],
      onAuth: this.onAuth,
    });
    for (const m of moves) answers.set(m.ref, this.answer(m.ref, results.get(m.ref)!));
    return answers;
  }

  async update(ref: string, expected: string | null, next: Uint8Array): Promise<boolean> {
    const result = await updateRemoteRef({
      url: this.url,
      ref,
      expected,
      next: objectId("commit", next),
      objects: [
        { type: "commit", content: next },
        { type: "tree", content: new Uint8Array(0) },
      ],
      onAuth: this.onAuth,
    });
    return this.answer(ref, result);
  }

  async release(ref: string, expected: string): Promise<boolean> {
    const result = await updateRemoteRef({ url: this.url, ref, expected, next: null, onAuth: this.onAuth });
    return this.answer(ref, result);
  }

  private answer(ref: string, result: Awaited<ReturnType<typeof updateRemoteRef>>): boolean {
    if (result.kind === "updated") return true;
    if (result.kind === "moved") return false;
    throw environmentError("leases.refused", `the remote refused ${ref}: ${result.reason}`, {
      hint: "the token needs push access to refs/opsconductor/*",
    });
  }
}

export class LocalLeaseBackend implements LeaseBackend {
  private readonly repo: GitRepository;
  constructor(gitdir: string) {
    this.repo = new GitRepository(gitdir);
  }

  get where(): string {
    return "local";
  }

  async read(ref: string): Promise<RawLease> {
    const oid = await this.repo.readRef(ref);
    if (oid === null) return null;
    return { oid, content: await this.repo.readRawObject(oid) };
  }

  async readMany(refs: string[]): Promise<Map<string, RawLease>> {
    const result = new Map<string, RawLease>();
    await Promise.all(refs.map(async (ref) => result.set(ref, await this.read(ref))));
    return result;
  }

  /**
   * One pass in this process: the objects are written, then every ref is
   * moved under its own lock file, all at once. Each ref succeeds or fails on
   * its own, as on a remote.
   */
  async updateMany(moves: LeaseMove[]): Promise<Map<string, boolean>> {
    const answers = new Map<string, boolean>();
    if (moves.length === 0) return answers;
    await this.repo.writeRawObject("tree", new Uint8Array(0));
    await Promise.all(
      moves.map(async (m) => {
        const oid = await this.repo.writeRawObject("commit", m.next);
        try {
          await this.repo.compareAndSwapRef(m.ref, m.expected, oid);
          answers.set(m.ref, true);
        } catch (e) {
          if (e instanceof RefMovedError) answers.set(m.ref, false);
          else throw e;
        }
      }),
    );
    return answers;
  }

  async update(ref: string, expected: string | null, next: Uint8Array): Promise<boolean> {
    await this.repo.writeRawObject("tree", new Uint8Array(0));
    const oid = await this.repo.writeRawObject("commit", next);
    try {
      await this.repo.compareAndSwapRef(ref, expected, oid);
      return true;
    } catch (e) {
      if (e instanceof RefMovedError) return false;
      throw e;
    }
  }

  /** Local refs may be packed, where deleting one by hand is unsafe: a released commit frees it. */
  release(ref: string, expected: string, released: Uint8Array): Promise<boolean> {
    return this.update(ref, expected, released);
  }
}

export interface LeasesOptions {
  replica: string;
  durationMs?: number;
  now?: () => Date;
}

export class Leases {
  readonly durationMs: number;
  readonly replica: string;
  private readonly now: () => Date;

  constructor(
    readonly backend: LeaseBackend,
    options: LeasesOptions,
  ) {
    this.replica = options.replica;
    this.durationMs = options.durationMs ?? DEFAULT_LEASE_MS;
    this.now = options.now ?? (() => new Date());
  }

  async read(ref: string): Promise<LeaseRecord | null> {
    const raw = await this.backend.read(ref);
    if (raw === null) return null;
    return { ref, oid: raw.oid, info: parseLease(raw.content) };
  }

  /** True when the lease's holder has let it run out. */
  expired(info: LeaseInfo): boolean {
    const at = Date.parse(info.expiresAt);
    return Number.isNaN(at) || at <= this.now().getTime();
  }

  /**
   * Takes the lease for `holder` unless someone else holds it. A lease
   * already held by this holder and replica is taken again (a retry)
   * unless `reacquireOwn` is false.
   */
  async acquire(
    ref: string,
    holder: string,
    options: { reacquireOwn?: boolean } = {},
  ): Promise<AcquireResult> {
    return (await this.acquireMany([ref], holder, options)).get(ref)!;
  }

  /**
   * `acquire` for many refs in one round: one read of them all, then one
   * batch of compare-and-swaps for the free and expired ones. Each ref is
   * decided on its own: some may be acquired and others held. A ref that
   * moved between the read and the update is read and decided again.
   */
  async acquireMany(
    refs: string[],
    holder: string,
    options: { reacquireOwn?: boolean } = {},
  ): Promise<Map<string, AcquireResult>> {
    const reacquireOwn = options.reacquireOwn ?? true;
    const results = new Map<string, AcquireResult>();
    let pending = [...new Set(refs)];
    for (let attempt = 0; attempt < 5 && pending.length > 0; attempt++) {
      const read = await this.readMany(pending);
      const now = this.now();
      const moves: Array<LeaseMove & { info: LeaseInfo }> = [];
      for (const ref of pending) {
        const current = read.get(ref) ?? null;
        const mine = reacquireOwn && current?.info.holder === holder && current.info.replica === this.replica;
        if (current?.info.state === "done") {
          results.set(ref, { kind: "done", by: current });
          continue;
        }
        if (current && current.info.state === "held" && !mine && !this.expired(current.info)) {
          results.set(ref, { kind: "held", by: current });
          continue;
        }
        const takenOver =
          current && current.info.state === "held" && !mine
            ? { holder: current.info.holder, replica: current.info.replica }
            : undefined;
        const info: LeaseInfo = {
          state: "held",
          holder,
          replica: this.replica,
          acquiredAt: now.toISOString(),
          renewedAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + this.durationMs).toISOString(),
          renewals: 0,
          ...(takenOver ? { takenOverFrom: takenOver } : {}),
        };
        const expected = current?.oid ?? null;
        moves.push({ ref, expected, next: leaseCommit(ref, expected, info, now), info });
      }
      const answers = await this.backend.updateMany(moves);
      pending = [];
      for (const m of moves) {
        if (answers.get(m.ref)) {
          const lease = new HeldLease(this, m.ref, objectId("commit", m.next), m.info);
          results.set(m.ref, { kind: "acquired", lease });
        } else {
          // Someone moved it between our read and our update: read again and decide again.
          pending.push(m.ref);
        }
      }
    }
    if (pending.length > 0) {
      const last = await this.readMany(pending);
      for (const ref of pending) {
        const r = last.get(ref);
        if (!r) throw environmentError("leases.contended", `cannot take ${ref}: it keeps moving`);
        results.set(ref, r.info.state === "done" ? { kind: "done", by: r } : { kind: "held", by: r });
      }
    }
    return results;
  }

  private async readMany(refs: string[]): Promise<Map<string, LeaseRecord | null>> {
    const raw = await this.backend.readMany(refs);
    const records = new Map<string, LeaseRecord | null>();
    for (const ref of refs) {
      const r = raw.get(ref) ?? null;
      records.set(ref, r === null ? null : { ref, oid: r.oid, info: parseLease(r.content) });
    }
    return records;
  }

  /** @internal the next commit of a lease. */
  next(ref: string, parent: string, info: LeaseInfo): Uint8Array {
    return leaseCommit(ref, parent, info, this.now());
  }

  /** @internal */
  clock(): Date {
    return this.now();
  }
}

/** A lease this process holds: renew it while working, then release it or mark it done. */
export class HeldLease {
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  lost = false;

  constructor(
    private readonly leases: Leases,
    readonly ref: string,
    public oid: string,
    public info: LeaseInfo,
  ) {}

  get takenOverFrom(): LeaseInfo["takenOverFrom"] {
    return this.info.takenOverFrom;
  }

  /** Renews every third of the duration until released; `onLost` hears when someone else took it. */
  keepAlive(onLost?: (why: string) => void, onError?: (e: unknown) => void): this {
    const every = Math.max(200, Math.floor(this.leases.durationMs / 3));
    this.timer = setInterval(() => {
      this.renew().then(
        (ok) => {
          if (!ok && !this.ended) {
            this.stop();
            onLost?.(`the lease ${this.ref} was taken by another holder after it expired`);
          }
        },
        (e: unknown) => onError?.(e),
      );
    }, every);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pushes the expiry forward; false when the lease was lost. */
  renew(): Promise<boolean> {
    return this.serial(async () => {
      if (this.ended || this.lost) return !this.lost;
      return this.move(this.renewedInfo());
    });
  }

  /** Frees the lease for the next holder. */
  release(): Promise<boolean> {
    this.stop();
    return this.serial(async () => {
      if (this.ended || this.lost) return false;
      this.ended = true;
      const info: LeaseInfo = {
        ...this.info,
        state: "released",
        renewedAt: this.leases.clock().toISOString(),
      };
      const ok = await this.leases.backend.release(
        this.ref,
        this.oid,
        this.leases.next(this.ref, this.oid, info),
      );
      if (!ok) this.lost = true;
      return ok;
    });
  }

  /** Marks the guarded work finished for good: nobody takes it over. */
  finish(): Promise<boolean> {
    this.stop();
    return this.serial(async () => {
      if (this.ended || this.lost) return false;
      this.ended = true;
      return this.move({ ...this.info, state: "done", renewedAt: this.leases.clock().toISOString() });
    });
  }

  /** @internal the move that renews this lease, for a batch (LeaseGroup); null once it ended or was lost. */
  renewalMove(): (LeaseMove & { info: LeaseInfo }) | null {
    if (this.ended || this.lost) return null;
    const info = this.renewedInfo();
    return { ref: this.ref, expected: this.oid, next: this.leases.next(this.ref, this.oid, info), info };
  }

  /** This lease's record renewed now: a full duration from the clock's now. */
  private renewedInfo(): LeaseInfo {
    const now = this.leases.clock();
    return {
      ...this.info,
      renewedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.leases.durationMs).toISOString(),
      renewals: this.info.renewals + 1,
    };
  }

  /** @internal the move that frees this lease, for a batch; the lease counts as ended from here on. */
  releaseMove(): (LeaseMove & { info: LeaseInfo }) | null {
    this.stop();
    if (this.ended || this.lost) return null;
    this.ended = true;
    const info: LeaseInfo = { ...this.info, state: "released", renewedAt: this.leases.clock().toISOString() };
    return {
      ref: this.ref,
      expected: this.oid,
      next: this.leases.next(this.ref, this.oid, info),
      release: true,
      info,
    };
  }

  /** @internal what the batch's server said about this lease's move. */
  settle(move: LeaseMove & { info: LeaseInfo }, ok: boolean): void {
    if (!ok) {
      this.lost = true;
      return;
    }
    this.oid = objectId("commit", move.next);
    this.info = move.info;
  }

  private async move(info: LeaseInfo): Promise<boolean> {
    const content = this.leases.next(this.ref, this.oid, info);
    if (!(await this.leases.backend.update(this.ref, this.oid, content))) {
      this.lost = true;
      return false;
    }
    this.oid = objectId("commit", content);
    this.info = info;
    return true;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function leaseCommit(ref: string, parent: string | null, info: LeaseInfo, at: Date): Uint8Array {
  const when = `${Math.floor(at.getTime() / 1000)} +0000`;
  const who = `${DEFAULT_AUTHOR.name} <${DEFAULT_AUTHOR.email}> ${when}`;
  const lines = [
    `State: ${info.state}`,
    `Holder: ${oneLine(info.holder)}`,
    `Replica: ${oneLine(info.replica)}`,
    `Acquired-At: ${info.acquiredAt}`,
    `Renewed-At: ${info.renewedAt}`,
    `Expires-At: ${info.expiresAt}`,
    `Renewals: ${info.renewals}`,
    ...(info.takenOverFrom
      ? [
          `Taken-Over-From-Holder: ${oneLine(info.takenOverFrom.holder)}`,
          `Taken-Over-From-Replica: ${oneLine(info.takenOverFrom.replica)}`,
        ]
      : []),
    // Two holders writing the same fields in the same second still write two commits.
    `Nonce: ${randomBytes(6).toString("hex")}`,
  ];
  const text =
    `tree ${EMPTY_TREE}\n` +
    (parent ? `parent ${parent}\n` : "") +
    `author ${who}\ncommitter ${who}\n\nlease ${ref}\n\n${lines.join("\n")}\n`;
  return new TextEncoder().encode(text);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}

/**
 * A lease commit's fields. A claim from before claims were leases (message
 * `claim <ref>`, no State) reads as done: its work ran then. Any other ref
 * someone wrote by hand reads as an expired lease of "unknown".
 */
export function parseLease(content: Uint8Array): LeaseInfo {
  const text = new TextDecoder().decode(content);
  const message = text.slice(text.indexOf("\n\n") + 2);
  const legacyClaim = message.startsWith("claim ") && !/^State: /m.test(message);
  const fields = new Map<string, string>();
  for (const line of message.split("\n")) {
    const m = /^([A-Za-z-]+): (.*)$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!);
  }
  const state = fields.get("State");
  const fromHolder = fields.get("Taken-Over-From-Holder");
  return {
    state: legacyClaim ? "done" : state === "released" || state === "done" ? state : "held",
    holder: fields.get("Holder") ?? "unknown",
    replica: fields.get("Replica") ?? "unknown",
    acquiredAt: fields.get("Acquired-At") ?? "",
    renewedAt: fields.get("Renewed-At") ?? "",
    expiresAt: fields.get("Expires-At") ?? "",
    renewals: Number(fields.get("Renewals") ?? 0) || 0,
    ...(fromHolder !== undefined
      ? { takenOverFrom: { holder: fromHolder, replica: fields.get("Taken-Over-From-Replica") ?? "unknown" } }
      : {}),
  };
}

/** Lease duration from `OPSC_LEASE_SECONDS` (decimal seconds, at least 1), else the default. */
export function leaseDurationMs(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.OPSC_LEASE_SECONDS;
  if (text === undefined || text === "") return DEFAULT_LEASE_MS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw environmentError("leases.bad-duration", `OPSC_LEASE_SECONDS is ${JSON.stringify(text)}`, {
      hint: "give the lease duration in seconds, at least 1 (default 60)",
    });
  }
  return Math.round(seconds * 1000);
}

/** Leases on the records remote when it is HTTP(S), else in the local repository. */
export function leaseBackendFor(gitdir: string, url: string | null, env = process.env): LeaseBackend {
  return url && /^https?:\/\//i.test(url)
    ? new RemoteLeaseBackend(url, authFromEnv(env))
    : new LocalLeaseBackend(gitdir);
}
