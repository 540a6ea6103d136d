/** Go's textual forms and go-yaml v3's typing of plain scalars: what decides the MAC bytes and `type:`. */
import { describe, expect, it } from "vitest";
import {
  SopsFloat,
  SopsTime,
  goFormatFloat,
  goParseBool,
  goParseFloat,
  goToText,
  parseRfc3339,
  parseYamlTimestamp,
} from "../../src/secrets/sops-tree.js";
import { resolvePlainScalar } from "../../src/secrets/sops-yaml.js";
import { encryptLeaf, decryptLeaf } from "../../src/secrets/sops-cipher.js";

describe("Go value forms", () => {
  it.each<[number, string]>([
    [3.14, "3.14"],
    [7, "7"],
    [1e21, "1000000000000000000000"],
    [1.5e-7, "0.00000015"],
    [-2.5e-9, "-0.0000000025"],
    [123456789e15, "123456789000000000000000"],
    [5e-324, "0." + "0".repeat(323) + "5"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
    [-0, "-0"],
  ])("FormatFloat(%d, 'f', -1) = %s", (v, s) => {
    expect(goFormatFloat(v)).toBe(s);
    if (Number.isFinite(v)) expect(Number(s)).toBe(v);
  });

  it("bools hash as Title case; ParseBool takes Go's spellings only", () => {
    expect(goToText(true)).toBe("True");
    expect(goToText(false)).toBe("False");
    expect(["1", "t", "T", "TRUE", "true", "True"].map(goParseBool)).toEqual(Array(6).fill(true));
    expect(goParseBool("yes")).toBeUndefined();
    expect(goParseFloat("+Inf")).toBe(Infinity);
    expect(goParseFloat("1e5")).toBe(100000);
    expect(goParseFloat("abc")).toBeUndefined();
  });

  it("times are held in MarshalText form", () => {
    expect(parseYamlTimestamp("2024-1-2")?.text).toBe("2024-01-02T00:00:00Z");
    expect(parseYamlTimestamp("2024-01-02 3:4:5.120")?.text).toBe("2024-01-02T03:04:05.12Z");
    expect(parseYamlTimestamp("2024-01-02t03:04:05+02:00")?.text).toBe("2024-01-02T03:04:05+02:00");
    expect(parseYamlTimestamp("2024-01-02T03:04:05+00:00")?.text).toBe("2024-01-02T03:04:05Z");
    expect(parseYamlTimestamp("2023-02-29")).toBeUndefined();
    expect(parseYamlTimestamp("2024-01-02T03:04:05")).toBeUndefined();
    expect(parseRfc3339("2024-01-02T03:04:05.000000001Z")?.text).toBe("2024-01-02T03:04:05.000000001Z");
  });
});

describe("go-yaml v3 plain scalar typing", () => {
  it.each<[string, unknown]>([
    ["yes", "yes"],
    ["on", "on"],
    ["True", true],
    ["FALSE", false],
    ["~", null],
    ["", null],
    ["0777", 511n],
    ["0o17", 15n],
    ["0x1F", 31n],
    ["-0b101", -5n],
    ["1_000", 1000n],
    ["+12", 12n],
    ["1.5", new SopsFloat(1.5)],
    ["1e3", new SopsFloat(1000)],
    [".5", new SopsFloat(0.5)],
    ["-.inf", new SopsFloat(-Infinity)],
    ["1.2.3", "1.2.3"],
    ["2024-01-01", new SopsTime("2024-01-01T00:00:00Z")],
    ["0x", "0x"],
    ["089", new SopsFloat(89)],
  ])("%j -> %o", (s, want) => {
    expect(resolvePlainScalar(s)).toEqual(want);
  });

  it("an integer beyond int64 is refused (sops cannot hold uint64)", () => {
    expect(() => resolvePlainScalar("18446744073709551615")).toThrow(/does not fit a signed 64-bit integer/);
  });
});

describe("value encryption", () => {
  const key = new Uint8Array(32).fill(1);
  it("writes a 32-byte IV, padded base64, the Go type; the AAD binds the key path", () => {
    const enc = encryptLeaf(5n, key, "a:b:");
    const m = /^ENC\[AES256_GCM,data:([^,]+),iv:([^,]+),tag:([^,]+),type:int\]$/.exec(enc);
    expect(m).not.toBeNull();
    expect(Buffer.from(m?.[2] ?? "", "base64")).toHaveLength(32);
    expect(Buffer.from(m?.[3] ?? "", "base64")).toHaveLength(16);
    expect(decryptLeaf(enc, key, "a:b:")).toBe(5n);
    expect(() => decryptLeaf(enc, key, "a:c:")).toThrow(/does not authenticate/);
    expect(encryptLeaf("", key, "a:")).toBe("");
  });
});
