/**
 * Planted secret values: a test registers them as secrets, lets them flow
 * through a run, then asserts they appear nowhere in what was written.
 */
import type { Redactor } from "../../src/secrets/redactor.js";

export const CANARY = "opsc-canary-9f2d41c7e8b3a6"; // not a real secret: a marker to search for
export const CANARY_MULTILINE =
  "-----BEGIN CANARY KEY-----\nb3BzYy1jYW5hcnktbXVsdGlsaW5lLWtleS0x\n-----END CANARY KEY-----\n";
/** One line of the multi-line value: a script echoing just that line must be masked too. */
export const CANARY_LINE = "b3BzYy1jYW5hcnktbXVsdGlsaW5lLWtleS0x";

/** Registers the canaries with a redactor; returns them as secret env vars. */
export function plantCanaries(redactor: Redactor): Record<string, string> {
  redactor.add(CANARY);
  redactor.add(CANARY_MULTILINE);
  return { CANARY_TOKEN: CANARY, CANARY_KEY: CANARY_MULTILINE };
}

/** Throws, naming where, when any canary (or a line of one) is in the text. */
export function assertNoCanary(text: string, where: string): void {
  for (const value of [CANARY, CANARY_LINE]) {
    if (text.includes(value)) throw new Error(`secret canary leaked into ${where}`);
  }
}
