/**
 * The private key `opsc approve` signs with: an OpenSSH (or PEM) key file read
 * by ssh2's key parser, handed to node:crypto. An encrypted key takes its
 * passphrase from OPSC_SIGNING_KEY_PASSPHRASE, never from the command line;
 * keys held by an agent or a security key are signed with `ssh-keygen -Y sign`
 * and handed over with `opsc approve --signature` instead.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";

export const PASSPHRASE_ENV = "OPSC_SIGNING_KEY_PASSPHRASE";

export interface SigningKey {
  privateKey: KeyObject;
  /** SSH wire blob of the public half. */
  publicKey: Buffer;
}

export async function readSigningKey(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SigningKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw userError("approve.key-unreadable", `cannot read the key ${path}: ${errorText(e)}`, {
      hint: "give the private key file with --key, for example --key ~/.ssh/id_ed25519",
    });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw userError("approve.not-private-key", `${path} is not a private key file`, {
      hint: text.startsWith("ssh-")
        ? "that is a public key: give the private half (without .pub)"
        : "give an OpenSSH private key, for example ~/.ssh/id_ed25519",
    });
  }
  const passphrase = env[PASSPHRASE_ENV] || undefined;
  const { default: ssh2 } = await import("ssh2");
  const parsed = ssh2.utils.parseKey(text, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase|bad decrypt/i.test(parsed.message);
    throw userError("approve.bad-key", `cannot read the private key ${path}: ${parsed.message}`, {
      hint: encrypted
        ? passphrase === undefined
          ? `the key is encrypted: set ${PASSPHRASE_ENV} (read -rs ${PASSPHRASE_ENV}; export ${PASSPHRASE_ENV}), or sign with ssh-keygen -Y sign and pass --signature`
          : `check ${PASSPHRASE_ENV}`
        : "use an ed25519, rsa or ecdsa key in OpenSSH or PEM format",
    });
  }
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  const pem = key.getPrivatePEM();
  if (!pem) throw userError("approve.not-private-key", `${path} holds no private key`);
  return { privateKey: createPrivateKey(pem), publicKey: Buffer.from(key.getPublicSSH()) };
}
