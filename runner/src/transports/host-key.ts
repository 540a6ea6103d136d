/**
 * Pinned host keys: parsing the OpenSSH one-line form and comparing what a server
 * presents, before any authentication.
 */
import { createHash } from "node:crypto";

export interface PinnedKey {
  type: string;
  blob: Buffer;
}

export function parsePinnedKey(line: string): PinnedKey | null {
  const parts = line.trim().split(/\s+/);
  // Accept both `type base64 [comment]` and known_hosts form `host type base64`.
  for (let i = 0; i + 1 < parts.length; i++) {
    const type = parts[i]!;
    if (/^(ssh-|ecdsa-|sk-)/.test(type) && /^[A-Za-z0-9+/]+=*$/.test(parts[i + 1]!)) {
      const blob = Buffer.from(parts[i + 1]!, "base64");
      if (keyType(blob) === type) return { type, blob };
    }
  }
  return null;
}

/** The algorithm name inside an SSH public key blob. */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4) return "unknown";
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Host key algorithms to offer, so the server presents a key of a pinned type. */
export function hostKeyAlgorithms(pinned: PinnedKey[]): string[] {
  const out: string[] = [];
  for (const { type } of pinned) {
    const algos = type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
    for (const a of algos) if (!out.includes(a)) out.push(a);
  }
  return out;
}
