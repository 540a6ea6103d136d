/**
 * Tokens created or revoked with `opsc tokens ... --state DIR` while the server
 * runs: the command line has no records repository, so the server, which
 * shares the state directory, notices the token file change and reports each
 * change for the audit trail. A change made while no server ran is not seen.
 */
import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "pino";
import { errorText } from "../../core/error-text.js";
import type { OutsideTokenChange, TokenStore } from "../../tokens/token-store.js";

export interface WatchTokenFileOptions {
  tokens: TokenStore;
  /** The folder of tokens.json (STATE/server). */
  dir: string;
  logger: Logger;
  onChange(change: OutsideTokenChange): void;
  /** A look every so often too, where file events do not arrive (network file systems). */
  pollMs?: number;
}

/** Starts watching; returns the function that stops it. */
export function watchTokenFile(o: WatchTokenFileOptions): () => void {
  const look = (): void => {
    try {
      for (const change of o.tokens.outsideChanges()) o.onChange(change);
    } catch (e) {
      o.logger.warn({ err: errorText(e) }, "cannot read the token file for changes made outside the server");
    }
  };
  look(); // what is there now is known, not news
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(o.dir, (_type, file) => {
      if (file === null || file === "tokens.json") look();
    });
    watcher.on("error", () => watcher?.close());
  } catch {
    // The poll alone then.
  }
  const timer = setInterval(look, o.pollMs ?? 5000);
  timer.unref();
  return () => {
    clearInterval(timer);
    watcher?.close();
  };
}
