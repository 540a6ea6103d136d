/**
 * Real files written by sops (../shared/vectors/sops, relative to the project
 * root; skipped when absent): every age-encrypted one decrypts through the
 * built CLI to EXPECTED.json, and the value encoding and MAC match sops's own.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseIdentityFile } from "../../src/secrets/identities.js";
import {
  decryptSops,
  decryptSopsWithDataKey,
  encryptSops,
  parseSopsText,
  type SopsFormat,
} from "../../src/secrets/sops-file.js";
import { walkLeaves } from "../../src/secrets/sops-tree.js";
import { HAVE_VECTORS, VECTORS, cleanEnv, opsc } from "../helpers/opsc-cli.js";

interface Expected {
  file: string;
  format: string;
  identityFile: string;
  dataKeyHex: string;
  macSha512Hex: string;
  plaintext: Record<string, unknown>;
}

const expected: Expected[] = HAVE_VECTORS
  ? (JSON.parse(readFileSync(join(VECTORS, "EXPECTED.json"), "utf8")) as Expected[])
  : [];
const formatOf = (e: Expected): SopsFormat =>
  e.format.startsWith("json (binary") ? "binary" : (e.format as SopsFormat);
const ageVectors = expected.filter((e) => !e.identityFile.includes("PGP"));
const pgpVectors = expected.filter((e) => e.identityFile.includes("PGP"));

function parseOutput(out: string, format: SopsFormat): unknown {
  switch (format) {
    case "yaml":
      return YAML.parse(out);
    case "json":
      return JSON.parse(out);
    case "dotenv":
      return Object.fromEntries(
        out
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
    case "binary":
      return { data: out };
  }
}

/** dotenv holds only strings. */
function asDotenv(p: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
}

describe.skipIf(!HAVE_VECTORS)("sops vectors", () => {
  it("has age vectors to test, post-quantum included", () => {
    expect(ageVectors.length).toBeGreaterThanOrEqual(10);
    expect(ageVectors.some((e) => e.file.endsWith("age-pq.yaml"))).toBe(true);
  });

  it.each(ageVectors.map((e) => [e.file, e] as const))(
    "opsc secrets decrypt %s gives EXPECTED.json",
    (_name, e) => {
      const home = mkdtempSync(join(tmpdir(), "opsc-vec-"));
      const format = formatOf(e);
      const args = ["secrets", "decrypt", join(VECTORS, e.file)];
      if (format === "binary") args.push("--input-type", "binary");
      const r = opsc(args, {
        cwd: home,
        env: cleanEnv(home, { SOPS_AGE_KEY_FILE: join(VECTORS, e.identityFile) }),
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const want = format === "dotenv" ? asDotenv(e.plaintext) : e.plaintext;
      expect(parseOutput(r.stdout, format)).toEqual(want);
    },
  );

  it.each(ageVectors.map((e) => [e.file, e] as const))(
    "%s: data key and MAC match, values re-encrypt byte-identically",
    async (_name, e) => {
      const format = formatOf(e);
      const text = readFileSync(join(VECTORS, e.file), "utf8");
      const ids = parseIdentityFile(readFileSync(join(VECTORS, e.identityFile), "utf8"), e.identityFile);
      const doc = await decryptSops(text, format, ids);
      expect(Buffer.from(doc.dataKey).toString("hex")).toBe(e.dataKeyHex);
      expect(doc.macHex).toBe(e.macSha512Hex);
      // Same data key, same IVs: if our types, plaintext forms and AADs equal sops's, so does every ciphertext.
      const again = await encryptSops(doc.branches, format, {
        recipients: [doc.metadata.age[0]?.recipient ?? ""],
        rule: doc.metadata.rule,
        macOnlyEncrypted: doc.metadata.macOnlyEncrypted,
        previous: doc,
      });
      const leaves = (t: string, f: SopsFormat) =>
        (f === "binary" ? parseSopsText(t, "json") : parseSopsText(t, f)).flatMap((b) => {
          b.delete("sops");
          return [...walkLeaves(b)].map((l) => [l.path.join(":"), String(l.leaf)]);
        });
      expect(leaves(again, format)).toEqual(leaves(text, format));
    },
  );

  it.each(pgpVectors.map((e) => [e.file, e] as const))(
    "%s (sops 3.13 / comments, PGP-wrapped): MAC verifies with the data key",
    (_name, e) => {
      const format = formatOf(e);
      const text = readFileSync(join(VECTORS, e.file), "utf8");
      const doc = decryptSopsWithDataKey(text, format, Buffer.from(e.dataKeyHex, "hex"));
      expect(doc.macHex).toBe(e.macSha512Hex);
      const plain: Record<string, unknown> = {};
      for (const [k, v] of doc.branches[0]?.entries ?? []) plain[k] = String(v);
      expect(plain).toEqual(format === "dotenv" ? asDotenv(e.plaintext) : e.plaintext);
    },
  );

  it("refuses a vector when the data key is wrong (MAC or value check)", () => {
    const e = ageVectors[0] as Expected;
    const text = readFileSync(join(VECTORS, e.file), "utf8");
    expect(() => decryptSopsWithDataKey(text, formatOf(e), Buffer.alloc(32, 7))).toThrow(
      /does not authenticate/,
    );
  });
});
