/**
 * A wall clock a test moves for a child process, through libfaketime (Debian
 * package `libfaketime`; `faketime` brings it and the CLI), so `opsc serve` is
 * tested as users run it, with no test-only hook in production code.
 *
 * The child reads an absolute time ("@YYYY-MM-DD HH:MM:SS") from a file that
 * the test rewrites. libfaketime re-reads it on every clock call
 * (FAKETIME_NO_CACHE=1); a new value becomes "now" and the clock runs on from
 * there at real speed. CLOCK_MONOTONIC jumps with it, which is what lets
 * libuv's timers (node-cron's heartbeat) fire after a jump; but a sleeping
 * event loop only notices the jump when it wakes, so after `set` the test must
 * give the child a reason to wake (any request to it).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/fs/write-file-atomic.js";

/**
 * The preload library, wherever the multiarch layout puts it; undefined when
 * not installed. The MT build, because Node reads the clock from several
 * threads: the plain build fakes nothing for one thread while another reads
 * the timestamp file, so CLOCK_MONOTONIC goes backwards and Node aborts
 * (`Assertion failed: (now) >= (timer_base())`).
 */
export function findLibfaketime(): string | undefined {
  const name = "faketime/libfaketimeMT.so.1";
  const candidates = [`/usr/lib/${name}`, `/usr/local/lib/${name}`];
  try {
    for (const arch of readdirSync("/usr/lib")) candidates.push(`/usr/lib/${arch}/${name}`);
  } catch {
    // No /usr/lib: not a system where libfaketime can be.
  }
  return candidates.find((c) => existsSync(c));
}

export class FakedClock {
  private readonly file: string;

  /** `start` is UTC, "YYYY-MM-DD HH:MM:SS". */
  constructor(
    private readonly library: string,
    dir: string,
    start: string,
  ) {
    this.file = join(dir, "faketime");
    this.set(start);
  }

  /** Moves the child's clock to `at` (UTC, "YYYY-MM-DD HH:MM:SS"); only ever forward in these tests. */
  set(at: string): void {
    if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(at)) throw new Error(`not "YYYY-MM-DD HH:MM:SS": ${at}`);
    // Written aside and renamed: the child must never read half a timestamp.
    writeFileAtomic(this.file, `@${at}\n`);
  }

  /** Environment for the child process. */
  env(): Record<string, string> {
    return {
      LD_PRELOAD: this.library,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_NO_CACHE: "1",
      // The timestamp is read as local time: pin the zone so it means UTC everywhere.
      TZ: "UTC",
    };
  }
}
