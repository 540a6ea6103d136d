import type { ErrorKind } from "./errors.js";

/**
 * Exit codes shared by every command. 0 and 1 are the answer to what was asked
 * (success / it failed: problems found, a target failed); the rest say why
 * nothing useful could be answered.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  user: 3,
  environment: 4,
  /** `opsc drift` found a target that differs from the repository (docs/drift.md). */
  drift: 5,
  interrupted: 130,
  bug: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(kind: ErrorKind): ExitCode {
  switch (kind) {
    case "usage":
      return EXIT.usage;
    case "user":
      return EXIT.user;
    case "environment":
      return EXIT.environment;
    case "bug":
      return EXIT.bug;
  }
}
