/**
 * SOPS files encrypted for age: decrypt (MAC verified on every read) and encrypt
 * so that the sops CLI reads what we write (notes/sops-format.md §2.10, §2.11).
 * Pure apart from randomness: callers hand in text and identities.
 */
import { createHash, randomBytes } from "node:crypto";
import { userError } from "../core/errors.js";
import type { AgeIdentity } from "./identities.js";
import { unwrapDataKey, wrapDataKey } from "./sops-age.js";
import {
  IvStash,
  decryptLeaf,
  decryptText,
  encryptLeaf,
  encryptText,
  isEncryptedValue,
} from "./sops-cipher.js";
import { emitDotenv, parseDotenvBranch } from "./sops-dotenv.js";
import { emitJson, parseJsonBranch } from "./sops-json.js";
import {
  DEFAULT_RULE,
  metadataNode,
  parseMetadata,
  type CryptRule,
  type SopsMetadata,
} from "./sops-metadata.js";
import { SopsMap, SopsTime, goToText, parseRfc3339, type SopsLeaf, type SopsNode } from "./sops-tree.js";
import { emitYaml, parseYamlBranches } from "./sops-yaml.js";

export type SopsFormat = "yaml" | "json" | "dotenv" | "binary";

export interface SopsDocument {
  format: SopsFormat;
  /** Plaintext documents (YAML may hold several), without the `sops` block. */
  branches: SopsMap[];
  metadata: SopsMetadata;
  dataKey: Uint8Array;
  /** IVs of the decrypted values, so unchanged values re-encrypt byte-identically. */
  ivStash: IvStash;
  /** The verified MAC: upper-case hex SHA-512 over the values. */
  macHex: string;
}

/** SHA-256("sops"), absorbed first when `mac_only_encrypted` is set. */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from(
  "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69",
  "hex",
);

/** Guesses the store from a file name, as sops does. */
export function formatForPath(path: string): SopsFormat {
  if (/\.ya?ml$/i.test(path)) return "yaml";
  if (/\.json$/i.test(path)) return "json";
  if (/\.env$/i.test(path) || /(^|\/)\.env(\.|$)/.test(path)) return "dotenv";
  return "binary";
}

/** Parses a file (plaintext or encrypted) into its documents, the `sops` block still inside. */
export function parseSopsText(text: string, format: SopsFormat, file?: string): SopsMap[] {
  if (text.includes("\r\n") && format !== "binary") text = text.replace(/\r\n/g, "\n");
  switch (format) {
    case "yaml":
      return parseYamlBranches(text, file);
    case "json":
      return [parseJsonBranch(text, file)];
    case "dotenv":
      return [parseDotenvBranch(text, file)];
    case "binary":
      return [new SopsMap([["data", text]])];
  }
}

/** Renders plaintext documents in their store's format (decrypted output). */
export function renderPlain(branches: SopsMap[], format: SopsFormat, indent?: number): string {
  switch (format) {
    case "yaml":
      return emitYaml(branches, indent === undefined ? {} : { indent });
    case "json":
      return emitJson(branches[0] ?? new SopsMap());
    case "dotenv":
      return emitDotenv(branches[0] ?? new SopsMap());
    case "binary": {
      const data = branches[0]?.get("data");
      return typeof data === "string" ? data : "";
    }
  }
}

function encryptedParse(text: string, format: SopsFormat, file?: string): SopsMap[] {
  // The binary store's encrypted form is a JSON envelope {"data": ENC, "sops": {...}}.
  return format === "binary" ? [parseJsonBranch(text, file)] : parseSopsText(text, format, file);
}

/** Splits off the metadata; throws `secrets.not-encrypted` for a file without a `sops` block. */
export function extractMetadata(branches: SopsMap[], file = "the file"): SopsMetadata {
  const first = branches[0];
  const node = first?.get("sops");
  if (node === undefined || node === null) {
    throw userError("secrets.not-encrypted", `${file} is not encrypted: it has no sops metadata`, {
      hint: "a credentials file must be encrypted; run `opsc secrets encrypt` on it, and rotate any secret that was committed in clear",
    });
  }
  const md = parseMetadata(node);
  for (const b of branches) b.delete("sops");
  return md;
}

/**
 * Which leaves are encrypted (`shouldBeEncrypted`, sops.go). Regexes are Go RE2
 * with an unanchored search; JS syntax that RE2 would read differently is refused.
 */
export function encryptionPredicate(rule: CryptRule): (path: string[]) => boolean {
  switch (rule.kind) {
    case "unencrypted_suffix":
      return (path) => !path.some((p) => p.endsWith(rule.value));
    case "encrypted_suffix":
      return (path) => path.some((p) => p.endsWith(rule.value));
    case "unencrypted_regex": {
      const re = compileGoRegex(rule.value);
      return (path) => !path.some((p) => re.test(p));
    }
    case "encrypted_regex": {
      const re = compileGoRegex(rule.value);
      return (path) => path.some((p) => re.test(p));
    }
    default:
      throw userError(
        "secrets.unsupported",
        `the rule ${rule.kind} (comment-based encryption) is not supported`,
        {
          hint: "use encrypted_regex or unencrypted_suffix in .sops.yaml",
        },
      );
  }
}

export function compileGoRegex(source: string): RegExp {
  if (/\(\?[a-zA-Z]/.test(source) || /\\[zAQE]|\[\[:/.test(source)) {
    throw userError(
      "secrets.unsupported",
      `the regular expression ${JSON.stringify(source)} uses Go-only syntax`,
      {
        hint: "write it without inline flags, \\A, \\z, \\Q..\\E or [[:class:]]",
      },
    );
  }
  try {
    return new RegExp(source, "u");
  } catch {
    throw userError("secrets.bad-regex", `${JSON.stringify(source)} is not a valid regular expression`, {
      hint: "fix the regular expression",
    });
  }
}

/** Go `time.Parse(RFC3339)` then `Format(RFC3339)`: fractional seconds are dropped. */
function macAad(lastmodified: string): string {
  const t = parseRfc3339(lastmodified);
  if (!t) {
    throw userError(
      "secrets.bad-metadata",
      "the sops metadata block is damaged: lastmodified is not an RFC 3339 time",
      {
        hint: "restore the file from Git history",
      },
    );
  }
  return t.text.replace(/\.\d+/, "");
}

export interface DecryptOptions {
  /** Labels errors; repository-relative path. */
  file?: string;
}

export async function decryptSops(
  text: string,
  format: SopsFormat,
  identities: readonly AgeIdentity[],
  options: DecryptOptions = {},
): Promise<SopsDocument> {
  const file = options.file ?? "the file";
  const branches = encryptedParse(text, format, options.file);
  const metadata = extractMetadata(branches, file);
  if (metadata.age.length === 0) {
    const others =
      metadata.otherKeyTypes.length > 0
        ? ` (it is encrypted for ${metadata.otherKeyTypes.join(", ")} only)`
        : "";
    throw userError("secrets.unsupported", `${file} has no age recipients${others}`, {
      hint: "add an age recipient with `sops updatekeys` and a creation rule in .sops.yaml",
    });
  }
  const dataKey = await unwrapDataKey(metadata.age, identities);
  if (!dataKey) {
    throw userError("secrets.no-identity", `none of your age identities can open ${file}`, {
      hint:
        `it is encrypted for ${metadata.age.map((a) => a.recipient.slice(0, 24) + "…").join(", ")}; ` +
        "set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to a matching identity, or ask someone who can read it to add your recipient and run `opsc secrets updatekeys`",
    });
  }
  return openWithDataKey(branches, metadata, dataKey, format, file);
}

/**
 * Decrypts with a data key already in hand. sops's own vectors are wrapped with
 * PGP, not age; this lets tests check the value encoding and MAC against them.
 */
export function decryptSopsWithDataKey(
  text: string,
  format: SopsFormat,
  dataKey: Uint8Array,
  options: DecryptOptions = {},
): SopsDocument {
  const file = options.file ?? "the file";
  const branches = encryptedParse(text, format, options.file);
  const metadata = extractMetadata(branches, file);
  return openWithDataKey(branches, metadata, dataKey, format, file);
}

function openWithDataKey(
  branches: SopsMap[],
  metadata: SopsMetadata,
  dataKey: Uint8Array,
  format: SopsFormat,
  file: string,
): SopsDocument {
  if (metadata.mac === "") {
    throw userError("secrets.mac-missing", `${file} has no MAC, so its integrity cannot be checked`, {
      hint: "restore the file from Git history; a removed MAC is a sign of tampering",
    });
  }
  const shouldEncrypt = encryptionPredicate(metadata.rule);
  const hash = createHash("sha512");
  if (metadata.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const ivStash = new IvStash();

  const walk = (node: SopsNode, path: string[]): SopsNode => {
    if (node === null) return null;
    if (Array.isArray(node)) return node.map((n) => walk(n, path));
    if (node instanceof SopsMap) return new SopsMap(node.entries.map(([k, v]) => [k, walk(v, [...path, k])]));
    const enc = shouldEncrypt(path);
    let value: SopsLeaf = node;
    if (enc) {
      const aad = path.join(":") + ":";
      if (typeof node !== "string" || (node !== "" && !isEncryptedValue(node))) {
        throw userError(
          "secrets.value-tampered",
          `the value at "${path.join(".")}" should be encrypted but is not`,
          {
            hint: "a value was replaced in clear; restore the file from Git history and change values with `opsc secrets set` or `sops`",
          },
        );
      }
      value = decryptLeaf(node, dataKey, aad, ivStash);
    }
    if (!metadata.macOnlyEncrypted || enc) hash.update(goToText(value), "utf8");
    return value;
  };
  const plain = branches.map((b) => walk(b, []) as SopsMap);

  const aad = macAad(metadata.lastmodified);
  let storedMac: string;
  try {
    storedMac = decryptText(metadata.mac, dataKey, aad).plaintext;
  } catch {
    throw macMismatch(file);
  }
  const computed = hash.digest("hex").toUpperCase();
  if (storedMac !== computed) throw macMismatch(file);
  return { format, branches: plain, metadata, dataKey, ivStash, macHex: computed };
}

function macMismatch(file: string): Error {
  return userError("secrets.mac-mismatch", `${file} fails its integrity check (MAC mismatch)`, {
    hint: "values were added, removed, reordered or edited outside sops; restore the file from Git history and edit it with `opsc secrets edit` or `sops edit`",
  });
}

export interface EncryptOptions {
  recipients: string[];
  rule?: CryptRule;
  macOnlyEncrypted?: boolean;
  /** Reuse this data key and its IVs (edit, set, updatekeys); omit for a fresh key (encrypt, rotate). */
  previous?: Pick<SopsDocument, "dataKey" | "ivStash">;
  now?: Date;
  /** YAML indent (sops default 4). */
  indent?: number;
}

/** The oldest sops that reads what we wrote (checklist §2.11.2). */
function claimedVersion(branches: SopsMap[], opts: EncryptOptions): string {
  if (opts.recipients.some((r) => r.startsWith("age1pq1"))) return "3.12.0";
  const usesTime = branches.some((b) => hasTime(b));
  if (usesTime || opts.recipients.some((r) => r.startsWith("ssh-"))) return "3.10.0";
  if (opts.macOnlyEncrypted) return "3.9.0";
  return "3.8.1";
}

function hasTime(node: SopsNode): boolean {
  if (node instanceof SopsTime) return true;
  if (Array.isArray(node)) return node.some(hasTime);
  if (node instanceof SopsMap) return node.entries.some(([, v]) => hasTime(v));
  return false;
}

function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

/** Encrypts plaintext documents and renders the file, `sops` block included. */
export async function encryptSops(
  branches: SopsMap[],
  format: SopsFormat,
  options: EncryptOptions,
): Promise<string> {
  if (options.recipients.length === 0) {
    throw userError("secrets.no-recipients", "there is no age recipient to encrypt for", {
      hint: "add a creation rule with `age: age1...` to .sops.yaml, or pass --age age1...",
    });
  }
  for (const b of branches) {
    if (b.has("sops")) {
      throw userError("secrets.already-encrypted", "the document already has a top-level `sops` key", {
        hint: "the file is already encrypted (use `opsc secrets edit`), or rename that key",
      });
    }
  }
  const rule = options.rule ?? DEFAULT_RULE;
  const shouldEncrypt = encryptionPredicate(rule);
  const dataKey = options.previous?.dataKey ?? new Uint8Array(randomBytes(32));
  const stash = options.previous?.ivStash ?? new IvStash();
  const hash = createHash("sha512");
  if (options.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  const plainStrings = new Set<string>();

  const walk = (node: SopsNode, path: string[]): SopsNode => {
    if (node === null) return null;
    if (Array.isArray(node)) return node.map((n) => walk(n, path));
    if (node instanceof SopsMap) return new SopsMap(node.entries.map(([k, v]) => [k, walk(v, [...path, k])]));
    const enc = shouldEncrypt(path);
    if (!options.macOnlyEncrypted || enc) hash.update(goToText(node), "utf8");
    if (!enc) {
      if (typeof node === "string") plainStrings.add(node);
      return node;
    }
    return encryptLeaf(node, dataKey, path.join(":") + ":", stash);
  };
  const encrypted = branches.map((b) => walk(b, []) as SopsMap);

  const lastmodified = rfc3339Seconds(options.now ?? new Date());
  const metadata: SopsMetadata = {
    age: await wrapDataKey(dataKey, options.recipients),
    lastmodified,
    mac: encryptText(hash.digest("hex").toUpperCase(), "str", dataKey, lastmodified),
    rule,
    macOnlyEncrypted: options.macOnlyEncrypted ?? false,
    version: claimedVersion(branches, options),
    otherKeyTypes: [],
  };
  const mdNode = metadataNode(metadata);
  switch (format) {
    case "yaml": {
      // sops appends the block to every document; only the first one's is read.
      const docs = (encrypted.length > 0 ? encrypted : [new SopsMap()]).map(
        (b) => new SopsMap([...b.entries, ["sops", mdNode]]),
      );
      const blockStrings = new Set(metadata.age.map((a) => a.enc));
      const indent = options.indent ?? 4;
      // Every plaintext string is double-quoted, so go-yaml cannot re-type it and break the MAC.
      return emitYaml(docs, { indent, quoteStrings: plainStrings, blockStrings });
    }
    case "json":
    case "binary":
      return emitJson(new SopsMap([...(encrypted[0]?.entries ?? []), ["sops", mdNode]]));
    case "dotenv":
      return emitDotenv(new SopsMap([...(encrypted[0]?.entries ?? []), ["sops", mdNode]]));
  }
}

/** Reads the `sops` block and key paths of an encrypted file without decrypting anything. */
export function inspectSops(
  text: string,
  format: SopsFormat,
  file?: string,
): { metadata: SopsMetadata; keyPaths: Set<string> } {
  const branches = encryptedParse(text, format, file);
  const metadata = extractMetadata(branches, file);
  const keyPaths = new Set<string>();
  const visit = (node: SopsNode, path: string[]) => {
    if (path.length > 0) keyPaths.add(path.join("."));
    if (node instanceof SopsMap) for (const [k, v] of node.entries) visit(v, [...path, k]);
  };
  for (const b of branches) visit(b, []);
  return { metadata, keyPaths };
}
