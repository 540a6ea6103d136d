/**
 * Ctrl-C while a command works on targets: the first cancels (running steps are
 * killed, the rest skipped, the run still recorded), the second exits at once.
 */
import { EXIT } from "../core/exit-codes.js";

export interface Interrupt {
  /** Aborted at the first Ctrl-C. */
  signal: AbortSignal;
  /** Stops listening; call when the command is done. */
  dispose(): void;
}

export function cancelOnInterrupt(): Interrupt {
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write("\nopsc: cancelling (Ctrl-C again to quit at once)\n");
      abort.abort();
    } else process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", onSigint);
  return { signal: abort.signal, dispose: () => process.off("SIGINT", onSigint) };
}
