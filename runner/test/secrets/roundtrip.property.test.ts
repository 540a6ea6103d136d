/** Random trees of values survive encrypt -> text -> decrypt, in YAML and JSON, encrypted or in clear. */
import * as age from "age-encryption";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { decryptSops, encryptSops, parseSopsText, type SopsFormat } from "../../src/secrets/sops-file.js";
import { SopsFloat, SopsMap, parseRfc3339, type SopsNode } from "../../src/secrets/sops-tree.js";

let identity: string;
let recipient: string;

beforeAll(async () => {
  identity = await age.generateX25519Identity();
  recipient = await age.identityToRecipient(identity);
});

const text = fc.string({ unit: "binary", maxLength: 40 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const float = (finiteOnly: boolean) =>
  fc
    .double({ noNaN: finiteOnly, noDefaultInfinity: finiteOnly })
    .filter((v) => !Object.is(v, -0))
    .map((v) => new SopsFloat(v));
const time = fc
  .date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true })
  .map((d) => parseRfc3339(d.toISOString()) ?? parseRfc3339("2000-01-01T00:00:00Z"));

function tree(leaf: fc.Arbitrary<SopsNode>, key: fc.Arbitrary<string>): fc.Arbitrary<SopsMap> {
  const { node } = fc.letrec<{ node: SopsNode; map: SopsMap }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      tie("map"),
      fc.array(tie("node"), { maxLength: 4 }),
    ),
    map: fc
      .uniqueArray(fc.tuple(key, tie("node")), { maxLength: 5, selector: ([k]) => k })
      .map((entries) => new SopsMap(entries)),
  }));
  return fc
    .uniqueArray(fc.tuple(key, node), { maxLength: 6, selector: ([k]) => k })
    .map((entries) => new SopsMap(entries));
}

const safeKey = text.filter((k) => k !== "sops" && k !== "<<" && !k.endsWith("_unencrypted"));

async function roundTrip(branch: SopsMap, format: SopsFormat): Promise<SopsNode[]> {
  const out = await encryptSops([branch], format, { recipients: [recipient] });
  const doc = await decryptSops(out, format, [identity]);
  return doc.branches;
}

describe("encrypt/decrypt round trip (property)", () => {
  it("YAML, every value encrypted: all types come back equal", async () => {
    const leaf = fc.oneof(
      text,
      int64,
      float(false),
      fc.boolean(),
      time,
      fc.constant(null),
    ) as fc.Arbitrary<SopsNode>;
    await fc.assert(
      fc.asyncProperty(tree(leaf, safeKey), async (branch) => {
        expect(await roundTrip(branch, "yaml")).toEqual([branch]);
      }),
      { numRuns: 60 },
    );
  });

  it("YAML, values in clear (_unencrypted): go-yaml typing keeps every type, and the MAC still verifies", async () => {
    const leaf = fc.oneof(
      text,
      int64,
      float(false),
      fc.boolean(),
      time,
      fc.constant(null),
    ) as fc.Arbitrary<SopsNode>;
    const clearKey = safeKey.map((k) => `${k}_unencrypted`);
    await fc.assert(
      fc.asyncProperty(tree(leaf, clearKey), async (branch) => {
        expect(await roundTrip(branch, "yaml")).toEqual([branch]);
      }),
      { numRuns: 60 },
    );
  });

  it("JSON, every value encrypted (JSON cannot hold NaN or Infinity)", async () => {
    const leaf = fc.oneof(
      text,
      int64,
      float(true),
      fc.boolean(),
      fc.constant(null),
    ) as fc.Arbitrary<SopsNode>;
    await fc.assert(
      fc.asyncProperty(tree(leaf, safeKey), async (branch) => {
        expect(await roundTrip(branch, "json")).toEqual([branch]);
      }),
      { numRuns: 60 },
    );
  });

  it("the plaintext YAML we print parses back to the same tree (decrypt -> edit -> encrypt is lossless)", async () => {
    const { emitYaml } = await import("../../src/secrets/sops-yaml.js");
    const leaf = fc.oneof(
      text,
      int64,
      float(false),
      fc.boolean(),
      time,
      fc.constant(null),
    ) as fc.Arbitrary<SopsNode>;
    fc.assert(
      fc.property(tree(leaf, safeKey), (branch) => {
        expect(parseSopsText(emitYaml([branch]), "yaml")).toEqual([branch]);
      }),
      { numRuns: 200 },
    );
  });
});
