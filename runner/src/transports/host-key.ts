/**
 * Pinned host keys: parsing the OpenSSH one-line form and comparing what a server
 * presents, before any authentication.
 */
import { createHash } from "node:crypto";

export interface PinnedKey {
  type: string;
  blob: Buffer;
}

/** Key types a host key may be pinned as; the same list is in schema/targets.schema.json (`hostKey`). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/**
 * `type base64 [comment]` as in a `.pub` file, or with one leading host field as
 * `ssh-keyscan` prints and known_hosts holds (`host type base64`). A known_hosts
 * marker line (`@cert-authority`, `@revoked`) is not a pinned key. null when the
 * line is none of these or the key's own type is not the one named.
 */
export function parsePinnedKey(line: string): PinnedKey | null {
  const parts = line.trim().split(/\s+/);
  const at = HOST_KEY_TYPES.includes(parts[0]!) ? 0 : parts[0]!.startsWith("@") ? -1 : 1;
  const type = parts[at];
  const b64 = parts[at + 1];
  if (at < 0 || type === undefined || b64 === undefined || !HOST_KEY_TYPES.includes(type)) return null;
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(b64)) return null;
  const blob = Buffer.from(b64, "base64");
  return keyType(blob) === type ? { type, blob } : null;
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
