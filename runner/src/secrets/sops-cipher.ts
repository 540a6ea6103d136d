/**
 * One SOPS value: AES-256-GCM with a 32-byte IV, the key path as additional data,
 * and the Go type of the plaintext (`aes/cipher.go` in getsops/sops).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { userError } from "../core/errors.js";
import {
  SopsFloat,
  goParseBool,
  goParseFloat,
  goParseInt,
  goToText,
  leafType,
  parseRfc3339,
  type SopsLeaf,
} from "./sops-tree.js";

const ENC_RE = /^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]/;
const IV_BYTES = 32;
const STRICT_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isEncryptedValue(s: string): boolean {
  return ENC_RE.test(s);
}

/**
 * Remembers the IV of every value decrypted with a data key, so re-encrypting an
 * unchanged value gives the same ciphertext and `git diff` stays small. The IV is
 * reused only for an identical (aad, type, plaintext), never otherwise.
 */
export class IvStash {
  private readonly ivs = new Map<string, Buffer>();
  private static key(aad: string, type: string, plaintext: string): string {
    return `${aad.length}:${aad}\u0000${type}\u0000${plaintext}`;
  }
  remember(aad: string, type: string, plaintext: string, iv: Buffer): void {
    this.ivs.set(IvStash.key(aad, type, plaintext), iv);
  }
  lookup(aad: string, type: string, plaintext: string): Buffer | undefined {
    return this.ivs.get(IvStash.key(aad, type, plaintext));
  }
}

/** Thrown when a value does not open: tampered ciphertext, value moved to another key, wrong data key. */
export function valueTampered(aad: string): Error {
  return userError(
    "secrets.value-tampered",
    `the encrypted value at "${aad.replace(/:$/, "")}" does not authenticate`,
    {
      hint: "the value was changed, moved to another key or damaged; restore the file from Git history and re-edit it with `opsc secrets edit` or `sops`",
    },
  );
}

function decodeB64(s: string, aad: string): Buffer {
  if (!STRICT_B64.test(s)) throw valueTampered(aad);
  return Buffer.from(s, "base64");
}

export function encryptText(
  plaintext: string,
  type: string,
  dataKey: Uint8Array,
  aad: string,
  stash?: IvStash,
): string {
  const iv = stash?.lookup(aad, type, plaintext) ?? randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  stash?.remember(aad, type, plaintext, iv);
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${tag.toString("base64")},type:${type}]`;
}

/** Encrypts a leaf. Empty strings stay empty, as sops leaves them. */
export function encryptLeaf(v: SopsLeaf, dataKey: Uint8Array, aad: string, stash?: IvStash): string {
  if (v === "") return "";
  return encryptText(goToText(v), leafType(v), dataKey, aad, stash);
}

export interface OpenedValue {
  plaintext: string;
  type: string;
}

export function decryptText(s: string, dataKey: Uint8Array, aad: string, stash?: IvStash): OpenedValue {
  const m = ENC_RE.exec(s);
  if (!m) throw valueTampered(aad);
  const [, data = "", ivText = "", tagText = "", type = ""] = m;
  const iv = decodeB64(ivText, aad);
  const tag = decodeB64(tagText, aad);
  const ct = decodeB64(data, aad);
  if (tag.length !== 16 || iv.length === 0) throw valueTampered(aad);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", dataKey, iv);
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    throw valueTampered(aad);
  }
  const plaintext = plain.toString("utf8");
  stash?.remember(aad, type, plaintext, iv);
  return { plaintext, type };
}

/** Decrypts a leaf and gives it back typed, so the MAC can re-serialise it with Go's rules. */
export function decryptLeaf(s: string, dataKey: Uint8Array, aad: string, stash?: IvStash): SopsLeaf {
  if (s === "") return "";
  const { plaintext, type } = decryptText(s, dataKey, aad, stash);
  return typedValue(plaintext, type, aad);
}

export function typedValue(plaintext: string, type: string, aad: string): SopsLeaf {
  const where = aad.replace(/:$/, "");
  const bad = () =>
    userError("secrets.bad-value-type", `the value at "${where}" is not a valid ${type}`, {
      hint: "the file was written by a broken tool; re-create the value with `opsc secrets set`",
    });
  switch (type) {
    case "str":
      return plaintext;
    case "int": {
      const v = goParseInt(plaintext);
      if (v === undefined) throw bad();
      return v;
    }
    case "float": {
      const v = goParseFloat(plaintext);
      if (v === undefined) throw bad();
      return new SopsFloat(v);
    }
    case "bool": {
      const v = goParseBool(plaintext);
      if (v === undefined) throw bad();
      return v;
    }
    case "time": {
      const v = parseRfc3339(plaintext);
      if (v === undefined) throw bad();
      return v;
    }
    default:
      throw userError("secrets.unsupported", `the value at "${where}" has the unknown type "${type}"`, {
        hint: "OpsConductor reads the types sops 3.x writes (str, int, float, bool, time); re-encrypt the file with a current sops",
      });
  }
}
