/**
 * Where age identities come from, the way sops looks for them: `SOPS_AGE_KEY`
 * (the key text), `SOPS_AGE_KEY_FILE`, the default key file
 * (`$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`),
 * and SSH ed25519 keys (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`, else `~/.ssh/id_ed25519`).
 * All that are present are used together.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import * as age from "age-encryption";
import { errorText } from "../core/error-text.js";
import { environmentError, userError } from "../core/errors.js";
import { defaultKeyFile } from "./default-key-file.js";
import { isOpenSshPrivateKey, parseSshEd25519Identity } from "./ssh-ed25519.js";

export type AgeIdentity = string | age.Identity;

export interface LoadedIdentities {
  identities: AgeIdentity[];
  /** Where they came from (names of variables and paths, never key material), for error messages. */
  sources: string[];
}

export { defaultKeyFile };

/** Parses an age identity file: one `AGE-SECRET-KEY-1...` per line, `#` comments. Never echoes a line. */
export function parseIdentityFile(text: string, source: string): AgeIdentity[] {
  if (isOpenSshPrivateKey(text)) return [parseSshEd25519Identity(text, source)];
  if (text.includes("-----BEGIN AGE ENCRYPTED FILE-----") || text.startsWith("age-encryption.org/")) {
    throw userError(
      "secrets.unsupported",
      `${source} is a passphrase-protected identity file, which OpsConductor does not read`,
      {
        hint: "decrypt it into a file readable only by you (`age -d`) and point SOPS_AGE_KEY_FILE at it",
      },
    );
  }
  const out: AgeIdentity[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("AGE-PLUGIN-")) {
      throw userError("secrets.unsupported", `${source}:${i + 1}: age plugin identities are not supported`, {
        hint: "use a native age identity (`opsc secrets keygen`)",
      });
    }
    if (!/^AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]+$/.test(line)) {
      throw userError("secrets.bad-identity", `${source}:${i + 1}: this line is not an age identity`, {
        hint: "an identity file holds AGE-SECRET-KEY-1... lines and # comments; check the file is the private key, not the recipient",
      });
    }
    out.push(line);
  });
  return out;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw environmentError(
      "secrets.identity-unreadable",
      `cannot read the identity file ${path}: ${errorText(e)}`,
      {
        hint: "check the file's permissions",
      },
    );
  }
}

export async function loadIdentities(env: NodeJS.ProcessEnv = process.env): Promise<LoadedIdentities> {
  const identities: AgeIdentity[] = [];
  const sources: string[] = [];
  const key = env.SOPS_AGE_KEY;
  if (key !== undefined && key.trim() !== "") {
    identities.push(...parseIdentityFile(key, "SOPS_AGE_KEY"));
    sources.push("SOPS_AGE_KEY");
  }
  const keyFile = env.SOPS_AGE_KEY_FILE;
  if (keyFile !== undefined && keyFile !== "") {
    const text = await readIfExists(keyFile);
    if (text === undefined) {
      throw environmentError(
        "secrets.identity-missing",
        `SOPS_AGE_KEY_FILE names ${keyFile}, which does not exist`,
        {
          hint: "point SOPS_AGE_KEY_FILE at your age identity file, or create one with `opsc secrets keygen`",
        },
      );
    }
    identities.push(...parseIdentityFile(text, keyFile));
    sources.push(keyFile);
  }
  const defaultFile = defaultKeyFile(env);
  const defaultText = await readIfExists(defaultFile);
  if (defaultText !== undefined) {
    identities.push(...parseIdentityFile(defaultText, defaultFile));
    sources.push(defaultFile);
  }
  const sshFile = env.SOPS_AGE_SSH_PRIVATE_KEY_FILE;
  if (sshFile !== undefined && sshFile !== "") {
    const text = await readIfExists(sshFile);
    if (text === undefined) {
      throw environmentError(
        "secrets.identity-missing",
        `SOPS_AGE_SSH_PRIVATE_KEY_FILE names ${sshFile}, which does not exist`,
        {
          hint: "point it at an unencrypted OpenSSH ed25519 private key",
        },
      );
    }
    identities.push(parseSshEd25519Identity(text, sshFile));
    sources.push(sshFile);
  } else {
    const sshDefault = join(env.HOME ?? homedir(), ".ssh", "id_ed25519");
    const text = await readIfExists(sshDefault).catch(() => undefined);
    if (text !== undefined) {
      // Like sops, an unusable default SSH key is skipped rather than fatal.
      try {
        identities.push(parseSshEd25519Identity(text, sshDefault));
        sources.push(sshDefault);
      } catch {
        /* passphrase-protected or not ed25519 */
      }
    }
  }
  return { identities, sources };
}
