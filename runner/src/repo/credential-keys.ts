/**
 * Key paths of a SOPS file, read without decrypting: SOPS keeps key names in
 * clear (notes/sops-format.md 2.1). List items add no path segment, as in sops.
 */
import { isRecord } from "../core/is-record.js";
import type { CredentialFile } from "../core/repo-model.js";
import type { YamlSource } from "./yaml-source.js";

export function credentialFileOf(name: string, format: "yaml" | "json", source: YamlSource): CredentialFile {
  const keyPaths = new Set<string>();
  const value = source.value;
  if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "sops") continue;
      collect(k, v, keyPaths);
    }
  }
  return { name, file: source.file, format, keyPaths };
}

function collect(path: string, value: unknown, out: Set<string>): void {
  out.add(path);
  if (Array.isArray(value)) {
    for (const item of value) collectChildren(path, item, out);
  } else {
    collectChildren(path, value, out);
  }
}

function collectChildren(path: string, value: unknown, out: Set<string>): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) collect(`${path}.${k}`, v, out);
}

/** A credentials file without the `sops` block (or without encrypted values) is plaintext in Git. */
export function isSopsEncrypted(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const meta = (value as Record<string, unknown>).sops;
  return meta !== null && typeof meta === "object" && "mac" in meta;
}
