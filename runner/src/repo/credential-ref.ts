/**
 * Credential references: `prod/ssh.private_key` is file credentials/prod.sops.yaml
 * (or .sops.json), key path `ssh.private_key`; `team/prod/db` is file
 * credentials/team/prod.sops.yaml, key path `db`. Key paths never contain `/`.
 */
import type { CredentialFile } from "../core/repo-model.js";

export interface CredentialRef {
  /** Credential file name: path under credentials/ without `.sops.yaml`. */
  file: string;
  /** Dotted key path inside the file. */
  keyPath: string;
}

export function parseCredentialRef(ref: string): CredentialRef | undefined {
  const slash = ref.lastIndexOf("/");
  if (slash <= 0 || slash === ref.length - 1) return undefined;
  return { file: ref.slice(0, slash), keyPath: ref.slice(slash + 1) };
}

/** Where a reference goes wrong, or undefined when the file and key path exist. */
export function credentialRefProblem(
  ref: string,
  credentials: ReadonlyMap<string, CredentialFile>,
): { code: string; message: string; hint: string } | undefined {
  const parsed = parseCredentialRef(ref);
  if (!parsed) {
    return {
      code: "ref.credential-syntax",
      message: `"${ref}" is not a credential reference`,
      hint: "write FILE/KEY.PATH, e.g. prod/ssh.private_key for key ssh.private_key in credentials/prod.sops.yaml",
    };
  }
  const file = credentials.get(parsed.file);
  if (!file) {
    const known = [...credentials.keys()].sort();
    return {
      code: "ref.unknown-credential-file",
      message: `credential "${ref}" needs credentials/${parsed.file}.sops.yaml, which does not exist`,
      hint: known.length
        ? `credential files here: ${known.join(", ")}; create one with \`opsc secrets edit credentials/${parsed.file}.sops.yaml\``
        : `create it with \`opsc secrets edit credentials/${parsed.file}.sops.yaml\``,
    };
  }
  if (!file.keyPaths.has(parsed.keyPath)) {
    const top = [...file.keyPaths].filter((k) => !k.includes(".")).sort();
    return {
      code: "ref.unknown-credential-key",
      message: `${file.file} has no key \`${parsed.keyPath}\``,
      hint: top.length
        ? `its keys: ${top.join(", ")}`
        : "the file holds no keys yet; add one with `opsc secrets set`",
    };
  }
  return undefined;
}
