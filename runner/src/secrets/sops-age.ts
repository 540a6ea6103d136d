/**
 * The data key's age wrapping: one armored age file per recipient holding the
 * 32 raw key bytes, as sops's `age/keysource.go` writes it.
 */
import * as age from "age-encryption";
import { userError } from "../core/errors.js";
import type { AgeIdentity } from "./identities.js";
import type { AgeEntry } from "./sops-metadata.js";
import { parseSshEd25519Recipient } from "./ssh-ed25519.js";

export async function wrapDataKey(dataKey: Uint8Array, recipients: string[]): Promise<AgeEntry[]> {
  const out: AgeEntry[] = [];
  for (const recipient of recipients) {
    const e = new age.Encrypter();
    try {
      e.addRecipient(recipient.startsWith("ssh-ed25519 ") ? parseSshEd25519Recipient(recipient) : recipient);
    } catch (err) {
      if (err instanceof Error && err.name === "OpscError") throw err;
      throw userError("secrets.bad-recipient", `"${recipient.slice(0, 80)}" is not an age recipient`, {
        hint: "use the age1... line printed by `opsc secrets keygen` or `age-keygen -y`, or an ssh-ed25519 public key",
      });
    }
    out.push({ recipient, enc: age.armor.encode(await e.encrypt(dataKey)) });
  }
  return out;
}

/**
 * Opens the data key with the first entry an identity matches. Only "this
 * identity is not a recipient" moves on to the next entry; a damaged entry that
 * did match is an error, so tampering is never mistaken for a wrong key.
 */
export async function unwrapDataKey(
  entries: AgeEntry[],
  identities: readonly AgeIdentity[],
): Promise<Uint8Array | undefined> {
  if (identities.length === 0) return undefined;
  const d = new age.Decrypter();
  for (const id of identities) d.addIdentity(id);
  for (const entry of entries) {
    let file: Uint8Array;
    try {
      file = age.armor.decode(entry.enc);
    } catch {
      continue;
    }
    try {
      const key = await d.decrypt(file);
      if (key.length !== 32) {
        throw userError(
          "secrets.bad-metadata",
          `the data key wrapped for ${entry.recipient} is ${key.length} bytes, not 32`,
          {
            hint: "restore the file from Git history",
          },
        );
      }
      return key;
    } catch (err) {
      if (err instanceof Error && /no identity matched/i.test(err.message)) continue;
      if (err instanceof Error && err.name === "OpscError") throw err;
      // A header or payload that fails to authenticate: try the other entries before giving up.
      continue;
    }
  }
  return undefined;
}
