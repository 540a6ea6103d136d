/**
 * Claims between replicas: a lease (see leases.ts) on
 * `refs/opsconductor/claims/<kind>/<id>`. Whoever takes it first does the
 * work, renews the lease while it works and marks it done once the work's
 * records are committed. A replica that died holding a claim stops renewing
 * it; once it expires, another replica that has the same work journaled
 * takes it over (a child of the expired lease commit, so two takers cannot
 * both win), and the run's trigger names the replica it took it from.
 */
import os from "node:os";
import { errorText } from "../core/error-text.js";
import { environmentError } from "../core/errors.js";
import {
  leaseDurationMs,
  Leases,
  LocalLeaseBackend,
  RemoteLeaseBackend,
  type HeldLease,
  type LeaseInfo,
} from "./leases.js";
import { authFromEnv } from "./remote-auth.js";

export const CLAIMS_PREFIX = "refs/opsconductor/claims";

/** Work this replica holds: renewed until done (or abandoned). */
export interface WonClaim {
  kind: "won";
  /** The replica whose expired claim this one took over. */
  takenOverFrom?: string;
  /** The work is finished and recorded: nobody takes it over. */
  done(): Promise<void>;
  /** Frees the claim at once (the work was not done; another replica may take it). */
  abandon(): Promise<void>;
}

export type ClaimAnswer =
  | WonClaim
  /** Another replica holds it; it expires at `expiresAt` unless renewed. */
  | { kind: "held"; replica: string; expiresAt: Date }
  /** Another replica (or this one, earlier) finished the work. */
  | { kind: "done"; replica: string };

export interface Claims {
  claim(kind: string, id: string): Promise<ClaimAnswer>;
}

export function claimRef(kind: string, id: string): string {
  const clean = (s: string) =>
    s
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^[.-]+/, "")
      .slice(0, 120) || "_";
  return `${CLAIMS_PREFIX}/${clean(kind)}/${clean(id)}`;
}

export function replicaName(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPSC_REPLICA || `${os.hostname()}:${process.pid}`;
}

/** Claims as leases, on the records remote or in a local repository. */
export class LeaseClaims implements Claims {
  constructor(
    private readonly leases: Leases,
    private readonly onLost: (ref: string, why: string) => void = () => undefined,
  ) {}

  async claim(kind: string, id: string): Promise<ClaimAnswer> {
    const ref = claimRef(kind, id);
    let answer;
    try {
      // The holder is the work itself: the same work taken twice by one replica is still held.
      answer = await this.leases.acquire(ref, `${kind}/${id}`, { reacquireOwn: false });
    } catch (e) {
      throw environmentError("claims.unreachable", `cannot claim ${ref}: ${errorText(e)}`, { cause: e });
    }
    if (answer.kind === "done") return { kind: "done", replica: answer.by.info.replica };
    if (answer.kind === "held") {
      return { kind: "held", replica: answer.by.info.replica, expiresAt: expiryOf(answer.by.info) };
    }
    return won(answer.lease.keepAlive((why) => this.onLost(ref, why)));
  }
}

function won(lease: HeldLease): WonClaim {
  return {
    kind: "won",
    ...(lease.takenOverFrom ? { takenOverFrom: lease.takenOverFrom.replica } : {}),
    done: async () => {
      await lease.finish();
    },
    abandon: async () => {
      await lease.release();
    },
  };
}

function expiryOf(info: LeaseInfo): Date {
  const at = Date.parse(info.expiresAt);
  return new Date(Number.isNaN(at) ? 0 : at);
}

/** Claims on an HTTP remote. */
export class RemoteClaims extends LeaseClaims {
  constructor(
    _gitdir: string,
    url: string,
    replica: string = replicaName(),
    durationMs: number = leaseDurationMs(),
  ) {
    super(new Leases(new RemoteLeaseBackend(url, authFromEnv()), { replica, durationMs }));
  }
}

/** Claims in a local repository (`--repo DIR`): git's own lock file arbitrates. */
export class LocalClaims extends LeaseClaims {
  constructor(gitdir: string, replica: string = replicaName(), durationMs: number = leaseDurationMs()) {
    super(new Leases(new LocalLeaseBackend(gitdir), { replica, durationMs }));
  }
}
