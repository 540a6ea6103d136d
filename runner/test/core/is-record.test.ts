import { describe, expect, it } from "vitest";
import { isRecord } from "../../src/core/is-record.js";

describe("isRecord", () => {
  it("is true for mappings only", () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord({ a: 1 })).toBe(true);
    expect(isRecord(Object.create(null))).toBe(true);
    for (const v of [null, undefined, [], [1], "s", 1, true]) expect(isRecord(v)).toBe(false);
  });
});
