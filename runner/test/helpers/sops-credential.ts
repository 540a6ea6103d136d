/**
 * A private key as a real sops+age credential file (`ssh.private_key`, plus
 * any further YAML), and the age identity that opens it: what tests that run
 * over SSH commit under credentials/.
 */
import * as age from "age-encryption";
import { encryptSops } from "../../src/secrets/sops-file.js";
import { parseYamlBranches } from "../../src/secrets/sops-yaml.js";

export async function sopsSshCredential(
  privateKey: string,
  moreYaml = "",
): Promise<{ credential: string; identity: string }> {
  const identity = await age.generateX25519Identity();
  const indented = privateKey
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
  const credential = await encryptSops(
    parseYamlBranches(`ssh:\n  private_key: |\n${indented}\n${moreYaml}`),
    "yaml",
    {
      recipients: [await age.identityToRecipient(identity)],
    },
  );
  return { credential, identity };
}
