/**
 * Cron expressions and time zones. An expression must satisfy both the
 * scheduler (node-cron) and the tick calculator (cron-parser); zones must be
 * IANA names Intl knows. Plain expressions, which both accept, are told apart
 * without loading either (runner/test/repo/cron-check.test.ts holds the two
 * libraries to that).
 */
import { createRequire } from "node:module";
import type { CronExpressionParser as Parser } from "cron-parser";
import type cronType from "node-cron";
import { errorText } from "../../core/error-text.js";
import { closest } from "../closest.js";
import type { RepoIndex } from "../repo-index.js";

const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

let zones: Set<string> | undefined;
function knownZones(): Set<string> {
  zones ??= new Set([...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/UTC"]);
  return zones;
}

/**
 * The two cron libraries, loaded on the first expression checked: cron-parser
 * brings luxon, together a tenth of a second of loading that a repository
 * without schedules (and every `opsc run` of one) should not pay. loadRepo is
 * synchronous, hence require() rather than import().
 */
let cronLibraries: { parser: typeof Parser; cron: typeof cronType } | undefined;
function cronLibs(): { parser: typeof Parser; cron: typeof cronType } {
  if (!cronLibraries) {
    const require = createRequire(import.meta.url);
    const parser = (require("cron-parser") as typeof import("cron-parser")).CronExpressionParser;
    const cron = require("node-cron") as typeof cronType & { default?: typeof cronType };
    cronLibraries = { parser, cron: cron.default ?? cron };
  }
  return cronLibraries;
}

const zoneMemo = new Map<string, boolean>();
const cronMemo = new Map<string, string | undefined>();

export function isValidTimeZone(zone: string): boolean {
  let valid = zoneMemo.get(zone);
  if (valid === undefined) {
    valid = checkZone(zone);
    if (zoneMemo.size > 1000) zoneMemo.clear();
    zoneMemo.set(zone, valid);
  }
  return valid;
}

function checkZone(zone: string): boolean {
  if (knownZones().has(zone)) return true;
  try {
    // Intl also accepts aliases (e.g. `Asia/Calcutta`) it does not list.
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone);
  } catch {
    return false;
  }
}

/** Why a cron expression is invalid, or undefined. */
export function cronProblem(expression: string): string | undefined {
  if (cronMemo.has(expression)) return cronMemo.get(expression);
  const problem = checkCron(expression);
  if (cronMemo.size > 5000) cronMemo.clear();
  cronMemo.set(expression, problem);
  return problem;
}

function checkCron(expression: string): string | undefined {
  const text = expression.trim();
  if (text.startsWith("@")) {
    return MACROS.includes(text) ? undefined : `unknown macro "${text}" (known: ${MACROS.join(", ")})`;
  }
  const fields = text.split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    return `a cron expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; this one has ${fields.length}`;
  }
  // Most schedules are plain numbers, ranges, lists and steps, which both libraries accept:
  // only the others load them (with luxon, most of `opsc validate`'s cron cost).
  if (isPlainCron(fields)) return undefined;
  try {
    cronLibs().parser.parse(text, { tz: "UTC" });
  } catch (e) {
    return errorText(e);
  }
  if (!cronLibs().cron.validate(text)) return "the scheduler does not accept this expression";
  return undefined;
}

/** Bounds of each field, minute first; a sixth field (seconds) comes before them. */
const FIELD_BOUNDS: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

/**
 * Whether every field is `*`, a step of `*` no larger than the field's bound,
 * an increasing range, or an increasing list of numbers, all in bounds: a
 * subset of what both node-cron and cron-parser accept (no names, `?`, `L`,
 * `W`, `#`, leading zeros, reversed ranges or repeated values, where the two
 * disagree).
 */
function isPlainCron(fields: string[]): boolean {
  const bounds: Array<[number, number]> = [
    ...(fields.length === 6 ? [[0, 59] as [number, number]] : []),
    ...FIELD_BOUNDS,
  ];
  const [dayOfMonth, month] = fields.slice(-3);
  // A day some listed month lacks (31 in February) is refused; days up to 28 exist in every month.
  if (month !== "*") bounds[bounds.length - 3] = dayOfMonth!.startsWith("*") ? [1, 0] : [1, 28];
  return fields.every((field, i) => {
    const [min, max] = bounds[i]!;
    if (field === "*") return true;
    const step = /^\*\/([1-9][0-9]?)$/.exec(field);
    if (step) return Number(step[1]) <= max;
    const numbers = (/^[0-9]+-[0-9]+$/.test(field) ? field.split("-") : field.split(",")).map((t) =>
      /^(0|[1-9][0-9]?)$/.test(t) ? Number(t) : NaN,
    );
    return numbers.every((n, k) => n >= min && n <= max && (k === 0 || n > numbers[k - 1]!));
  });
}

export function checkSchedules(index: RepoIndex): void {
  for (const job of index.jobs.values()) {
    const drift = job.raw.drift;
    const driftProblem = drift?.schedule !== undefined ? cronProblem(drift.schedule) : undefined;
    if (driftProblem) {
      index.report(
        job.source,
        ["drift", "schedule"],
        "error",
        "cron.invalid",
        `invalid cron expression "${drift!.schedule}": ${driftProblem}`,
        'for example "0 6 * * *" is 06:00 every day; "@hourly" every hour',
      );
    }
    if (drift?.timezone !== undefined && !isValidTimeZone(drift.timezone)) {
      const guess = closest(drift.timezone, knownZones());
      index.report(
        job.source,
        ["drift", "timezone"],
        "error",
        "cron.timezone",
        `unknown time zone "${drift.timezone}"`,
        guess ? `did you mean "${guess}"?` : "use an IANA time zone name such as Europe/Berlin or UTC",
      );
    }
    for (const [i, s] of (job.raw.on?.schedule ?? []).entries()) {
      const problem = cronProblem(s.cron);
      if (problem) {
        index.report(
          job.source,
          ["on", "schedule", i, "cron"],
          "error",
          "cron.invalid",
          `invalid cron expression "${s.cron}": ${problem}`,
          'for example "0 3 * * 1" is 03:00 every Monday; "*/15 * * * *" every quarter hour',
        );
      }
      if (s.timezone !== undefined && !isValidTimeZone(s.timezone)) {
        const guess = closest(s.timezone, knownZones());
        index.report(
          job.source,
          ["on", "schedule", i, "timezone"],
          "error",
          "cron.timezone",
          `unknown time zone "${s.timezone}"`,
          guess ? `did you mean "${guess}"?` : "use an IANA time zone name such as Europe/Berlin or UTC",
        );
      }
    }
  }
}
