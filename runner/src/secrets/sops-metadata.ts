/**
 * The `sops` metadata block: read from any sops 3.x layout (any key order,
 * empty/null/missing key lists, unknown keys ignored), written the way sops
 * >= 3.13 writes it (alphabetical, empty key types left out).
 */
import { userError } from "../core/errors.js";
import { SopsMap, SopsTime, displayText, type SopsNode } from "./sops-tree.js";

export const CRYPT_RULE_KEYS = [
  "unencrypted_suffix",
  "encrypted_suffix",
  "unencrypted_regex",
  "encrypted_regex",
  "unencrypted_comment_regex",
  "encrypted_comment_regex",
] as const;
export type CryptRuleKind = (typeof CRYPT_RULE_KEYS)[number];

/** Which values are encrypted; sops allows at most one rule per file. */
export interface CryptRule {
  kind: CryptRuleKind;
  value: string;
}

export const DEFAULT_RULE: CryptRule = { kind: "unencrypted_suffix", value: "_unencrypted" };

export interface AgeEntry {
  recipient: string;
  enc: string;
}

export interface SopsMetadata {
  age: AgeEntry[];
  lastmodified: string;
  mac: string;
  rule: CryptRule;
  macOnlyEncrypted: boolean;
  version: string;
  /** Non-empty master key types other than age (pgp, kms, ...), kept only to explain failures. */
  otherKeyTypes: string[];
}

const OTHER_KEY_TYPES = ["kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "hckms"];

function badMetadata(message: string): Error {
  return userError("secrets.bad-metadata", `the sops metadata block is damaged: ${message}`, {
    hint: "restore the file from Git history; the metadata is written by sops or `opsc secrets`, not by hand",
  });
}

function text(v: SopsNode | undefined): string | undefined {
  if (v === null || v === undefined || v instanceof SopsMap || Array.isArray(v)) return undefined;
  return v instanceof SopsTime ? v.text : displayText(v);
}

function ageEntries(v: SopsNode | undefined): AgeEntry[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw badMetadata("`age` is not a list");
  return v.map((e) => {
    if (!(e instanceof SopsMap)) throw badMetadata("an `age` entry is not a mapping");
    const recipient = text(e.get("recipient"));
    const enc = text(e.get("enc"));
    if (recipient === undefined || enc === undefined)
      throw badMetadata("an `age` entry lacks recipient or enc");
    return { recipient, enc };
  });
}

export function parseMetadata(node: SopsNode): SopsMetadata {
  if (!(node instanceof SopsMap)) throw badMetadata("`sops` is not a mapping");
  let age = ageEntries(node.get("age"));
  const groups = node.get("key_groups");
  const otherKeyTypes = OTHER_KEY_TYPES.filter((k) => {
    const v = node.get(k);
    return Array.isArray(v) && v.length > 0;
  });
  if (Array.isArray(groups) && groups.length > 0) {
    if (groups.length > 1) {
      throw userError(
        "secrets.unsupported",
        "this file splits its data key over several key groups (Shamir), which OpsConductor does not read",
        {
          hint: "re-encrypt it with a single key group: `sops updatekeys` after removing key_groups from .sops.yaml",
        },
      );
    }
    const group = groups[0];
    if (group instanceof SopsMap) {
      age = [...age, ...ageEntries(group.get("age"))];
      for (const k of OTHER_KEY_TYPES) {
        const v = group.get(k);
        if (Array.isArray(v) && v.length > 0 && !otherKeyTypes.includes(k)) otherKeyTypes.push(k);
      }
    }
  }
  const rules = CRYPT_RULE_KEYS.filter((k) => {
    const v = node.get(k);
    return v !== undefined && v !== null && text(v) !== "";
  });
  if (rules.length > 1) throw badMetadata(`it names more than one of ${rules.join(", ")}`);
  const ruleKind = rules[0];
  const rule: CryptRule = ruleKind ? { kind: ruleKind, value: text(node.get(ruleKind)) ?? "" } : DEFAULT_RULE;
  const macOnly = node.get("mac_only_encrypted");
  return {
    age,
    lastmodified: text(node.get("lastmodified")) ?? "",
    mac: text(node.get("mac")) ?? "",
    rule,
    macOnlyEncrypted: macOnly === true || macOnly === "true",
    version: text(node.get("version")) ?? "",
    otherKeyTypes,
  };
}

/** The block as sops >= 3.13 writes it: keys sorted, empty key types omitted. */
export function metadataNode(md: SopsMetadata): SopsMap {
  const entries: Array<[string, SopsNode]> = [
    [
      "age",
      md.age.map(
        (a) =>
          new SopsMap([
            ["recipient", a.recipient],
            ["enc", a.enc],
          ]),
      ),
    ],
    ["lastmodified", md.lastmodified],
    ["mac", md.mac],
    [md.rule.kind, md.rule.value],
    ["version", md.version],
  ];
  if (md.macOnlyEncrypted) entries.push(["mac_only_encrypted", true]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new SopsMap(entries);
}
