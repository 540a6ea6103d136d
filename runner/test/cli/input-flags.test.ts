import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectPair, intOption, parseShard } from "../../src/cli/input-flags.js";
import { EXIT } from "../../src/core/exit-codes.js";
import { PROJECT_ROOT } from "../helpers/opsc-cli.js";

describe("command-line values", () => {
  it("refuses numbers that are not whole or out of range, naming the flag and the range", () => {
    for (const bad of ["abc", "", "1.5", "0", "1001"]) {
      expect(() => intOption("--parallel", bad, 1, 1000)).toThrow(
        `--parallel ${bad}: expected a whole number from 1 to 1000`,
      );
    }
    expect(intOption("--parallel", "20", 1, 1000)).toBe(20);
  });

  it("refuses a shard outside 1..N and a pair without =", () => {
    expect(() => parseShard("4/3")).toThrow("--shard 4/3: expected K/N with 1 <= K <= N");
    expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
    expect(() => collectPair("who")).toThrow('expected NAME=VALUE, got "who"');
  });

  it("turns a bad number into a usage error (exit 2), not a crash", async () => {
    const child = spawn(
      process.execPath,
      [
        join(PROJECT_ROOT, "runner/bin/opsc.js"),
        "targets",
        "check",
        "--parallel",
        "abc",
        "--repo",
        "examples/minimal",
      ],
      { cwd: PROJECT_ROOT },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(EXIT.usage);
    expect(err).toContain("--parallel abc: expected a whole number from 1 to 1000");
    expect(err).not.toContain("    at ");
  });
});
