/**
 * `opsc validate` accepts a cron expression exactly when both the scheduler
 * (node-cron) and the tick calculator (cron-parser) do, also for the plain
 * expressions it tells apart without loading them.
 */
import cron from "node-cron";
import { CronExpressionParser } from "cron-parser";
import { describe, expect, it } from "vitest";
import { cronProblem } from "../../src/repo/checks/check-schedules.js";

function bothAccept(expression: string): boolean {
  try {
    CronExpressionParser.parse(expression, { tz: "UTC" });
  } catch {
    return false;
  }
  return cron.validate(expression);
}

const numbers = Array.from({ length: 62 }, (_, i) => String(i));
/** Field values where plain-looking text is refused by one library or both. */
const items = [
  ...numbers,
  "00",
  "07",
  ...numbers.map((n) => `*/${n}`),
  ...["0-5", "5-1", "1-1", "1-31", "0-59", "6-7", "23-24", "1-12", "0-6"],
  ...["0,30", "5,5", "5,3", "1,2,3", "*,5", "1-5,3", "1-5,7", "*/20,21", "10,60"],
];

describe("cron expressions", () => {
  it.each([
    "*/15 * * * *",
    "15 1 * * *",
    "0 3 * * 1",
    "0 0 31 2 *",
    "0 0 30 2 *",
    "0 0 31 4,6 *",
    "0 0 */15 2 *",
    "59 59 23 31 12 6",
    "0 0 0 * * *",
    "0 0 L * *",
    "0 0 * * mon-fri",
    "0 0 ? * 1",
  ])("%s is accepted exactly when both libraries accept it", (expression) => {
    expect(cronProblem(expression) === undefined).toBe(bothAccept(expression));
  });

  it("agrees with both libraries on every field value tried, in every position", () => {
    const disagree: string[] = [];
    for (const count of [5, 6]) {
      for (let at = 0; at < count; at++) {
        for (const item of items) {
          const fields = Array<string>(count).fill("*");
          fields[at] = item;
          const expression = fields.join(" ");
          if ((cronProblem(expression) === undefined) !== bothAccept(expression)) disagree.push(expression);
        }
      }
    }
    expect(disagree).toEqual([]);
  });

  it("agrees with both libraries on days of the month against months", () => {
    const disagree: string[] = [];
    const days = ["1", "28", "29", "30", "31", "1-31", "28,31", "*/15", "*"];
    const months = ["*", "1", "2", "4", "2,3", "1-12", "4,6", "*/2", "12"];
    for (const day of days) {
      for (const month of months) {
        const expression = `0 0 ${day} ${month} *`;
        if ((cronProblem(expression) === undefined) !== bothAccept(expression)) disagree.push(expression);
      }
    }
    expect(disagree).toEqual([]);
  });
});
