/**
 * `--input k=v` (repeatable) and `--match k=v` as commander collects them.
 * Values stay text; the planner coerces them by each input's schema.
 */
import type { Command } from "commander";
import { usageError } from "../core/errors.js";

export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) {
    throw usageError("cli.bad-pair", `expected NAME=VALUE, got "${value}"`, {
      hint: "for example --input package=nginx",
    });
  }
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter(Boolean)];
}

export { parseShard } from "../app/shard-group.js";

/** The options `plan` and `run` share: which repository, which inputs, which targets. */
export function addJobOptions(command: Command): Command {
  return command
    .argument("<job>", "job id (path under jobs/ without .yaml)")
    .option("--repo <dir>", "automation repository (default: nearest folder upward with opsconductor.yaml)")
    .option("-i, --input <name=value>", "job input (repeatable)", collectPair)
    .option(
      "-t, --target <names>",
      "only these targets (names or globs, comma-separated, repeatable)",
      collectList,
    )
    .option(
      "-m, --match <label=value>",
      "only targets with this label (repeatable, all must match)",
      collectPair,
    )
    .option("--tags <tags>", "only steps with one of these tags (comma-separated, repeatable)", collectList)
    .option("--skip-tags <tags>", "leave out steps with any of these tags (comma-separated)", collectList)
    .option("--start-at <step>", "leave out the steps before this one (its id)");
}

/** The step selection of `--tags`, `--skip-tags`, `--start-at`, when any is given. */
export function stepSelection(opts: {
  tags?: string[];
  skipTags?: string[];
  startAt?: string;
}): { tags: string[]; skipTags: string[]; startAt?: string } | undefined {
  if (!opts.tags?.length && !opts.skipTags?.length && opts.startAt === undefined) return undefined;
  return {
    tags: opts.tags ?? [],
    skipTags: opts.skipTags ?? [],
    ...(opts.startAt !== undefined ? { startAt: opts.startAt } : {}),
  };
}

/** A whole number within bounds, or a usage error naming the flag. */
export function intOption(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw usageError("cli.bad-number", `${flag} ${value}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

/** intOption as a commander argument parser. */
export const intFlag =
  (flag: string, min: number, max: number) =>
  (value: string): number =>
    intOption(flag, value, min, max);
