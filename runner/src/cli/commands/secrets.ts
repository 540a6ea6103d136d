/** `opsc secrets keygen|encrypt|decrypt|edit|set|updatekeys|rotate`: SOPS files for age, like the sops CLI. */
import { spawn } from "node:child_process";
import type { Command } from "commander";
import { environmentError } from "../../core/errors.js";
import type { FormatOpts, RuleOpts, SecretsWorkspace } from "../../app/secrets-workspace.js";

// The workspace (and with it the crypto and YAML modules) is loaded when a
// `secrets` command runs (the preAction hook below), so `opsc --help` and
// `--version` stay quick.
let workspace: SecretsWorkspace;

async function loadWorkspace(): Promise<void> {
  ({ secretsWorkspace: workspace } = await import("../../app/secrets-workspace.js"));
}

function readStdin(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    if (process.stdin.isTTY) {
      process.stderr.write("Type the value, then Ctrl-D:\n");
    }
    const chunks: Buffer[] = [];
    process.stdin.on("data", (c: Buffer) => chunks.push(c));
    process.stdin.on("end", () => resolvePromise(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

function runEditor(path: string): Promise<void> {
  const editor = process.env.VISUAL || process.env.EDITOR || "vi";
  return new Promise((resolvePromise, reject) => {
    // The editor command may carry flags ("code --wait"); the shell splits it. Only the path is an argument.
    const child = spawn("/bin/sh", ["-c", `${editor} "$1"`, "opsc-editor", path], { stdio: "inherit" });
    child.on("error", (e) =>
      reject(environmentError("secrets.editor-failed", `cannot start the editor: ${e.message}`)),
    );
    child.on("exit", (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(
          environmentError(
            "secrets.editor-failed",
            `the editor (${editor}) exited with ${signal ?? `code ${code ?? "?"}`}; nothing was changed`,
            {
              hint: "set EDITOR to an editor that waits until the file is closed (e.g. `code --wait`)",
            },
          ),
        );
    });
  });
}

export function register(program: Command): void {
  const secrets = program
    .command("secrets")
    .description(
      "Create, read and change SOPS files encrypted for age (credentials/*.sops.yaml), compatible with the sops CLI",
    )
    .addHelpText(
      "after",
      `
Identities (private keys) are read like sops reads them: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
${"$"}XDG_CONFIG_HOME/sops/age/keys.txt (else ~/.config/sops/age/keys.txt), SOPS_AGE_SSH_PRIVATE_KEY_FILE.
Recipients and which values are encrypted come from the creation rules in .sops.yaml.

Examples:
  $ opsc secrets keygen                                   # prints your recipient age1...
  $ printf '%s' "$TOKEN" | opsc secrets set credentials/prod.sops.yaml api.token
  $ opsc secrets decrypt credentials/prod.sops.yaml
  $ opsc secrets edit credentials/prod.sops.yaml

See docs/secrets.md.`,
    )
    .hook("preAction", loadWorkspace);

  secrets
    .command("keygen")
    .description("Create an age identity file (mode 0600) and print its recipient")
    .option("-o, --out <file>", "where to write it (default: the sops key file location)")
    .option("--pq", "a post-quantum hybrid identity (needs sops >= 3.12 and age >= 1.3 to read)")
    .option(
      "--add-to-rule <path_regex>",
      "also add the recipient to the .sops.yaml creation rule with exactly this path_regex",
    )
    .option("--config <file>", "the .sops.yaml to edit (default: searched from here upwards)")
    .addHelpText(
      "after",
      `
Examples:
  $ opsc secrets keygen                       # writes ~/.config/sops/age/keys.txt
  $ opsc secrets keygen -o ci-key.txt         # then store its content as the CI secret SOPS_AGE_KEY
  $ opsc secrets keygen -o ci-key.txt --add-to-rule '^credentials/.*\\.sops\\.(yaml|json)$'
  $ opsc secrets updatekeys credentials/prod.sops.yaml   # then, for each file the rule covers

It never overwrites an existing file. Without --add-to-rule, put the printed recipient in
.sops.yaml yourself. --add-to-rule edits .sops.yaml keeping its comments and layout; either way,
the new key reads existing files only after \`opsc secrets updatekeys FILE\` on each of them.`,
    )
    .action(async (opts: { out?: string; pq?: boolean; addToRule?: string; config?: string }) => {
      const { file, recipient, rulePath } = await workspace.keygen(opts);
      process.stderr.write(`Wrote the identity to ${file} (mode 0600). Recipient:\n`);
      process.stdout.write(`${recipient}\n`);
      if (rulePath !== undefined) {
        process.stderr.write(
          `Added it to the creation rule ${opts.addToRule} in ${rulePath}. It can read existing files\n` +
            `once you run \`opsc secrets updatekeys FILE\` on each file that rule covers (then commit them).\n`,
        );
      }
    });

  secrets
    .command("encrypt")
    .description("Encrypt a plaintext file in place, for the recipients of its .sops.yaml creation rule")
    .argument("<file>", "the plaintext YAML, JSON, dotenv or other file")
    .option("--age <recipients>", "comma-separated age recipients, instead of the creation rule's")
    .option("--config <file>", "the .sops.yaml to use (default: searched from the file's folder upwards)")
    .option("--input-type <type>", "yaml, json, dotenv or binary (default: from the file name)")
    .addHelpText(
      "after",
      `
Example .sops.yaml at the repository root:
  creation_rules:
    - path_regex: ^credentials/.*\\.sops\\.(yaml|json)$
      age: age1...alice,age1...ci

Examples:
  $ opsc secrets encrypt credentials/prod.sops.yaml
  $ opsc secrets encrypt --age age1qqq... notes.json`,
    )
    .action(async (file: string, opts: RuleOpts & FormatOpts) => {
      const recipients = await workspace.encrypt(file, opts);
      process.stderr.write(`Encrypted ${file} for ${recipients} recipient(s).\n`);
    });

  secrets
    .command("decrypt")
    .description("Print the decrypted file on stdout, in the same format (the MAC is verified first)")
    .argument("<file>", "an encrypted SOPS file")
    .option("--input-type <type>", "yaml, json, dotenv or binary (default: from the file name)")
    .addHelpText(
      "after",
      `
Examples:
  $ opsc secrets decrypt credentials/prod.sops.yaml
  $ SOPS_AGE_KEY_FILE=ci-key.txt opsc secrets decrypt credentials/prod.sops.json

Nothing is printed unless the whole file decrypts and its MAC matches.`,
    )
    .action(async (file: string, opts: FormatOpts) => {
      process.stdout.write(await workspace.decrypt(file, opts));
    });

  secrets
    .command("edit")
    .description("Edit a decrypted copy in $EDITOR, then re-encrypt it (a new file uses the creation rules)")
    .argument("<file>", "an encrypted SOPS file (created if missing)")
    .option("--input-type <type>", "yaml, json, dotenv or binary (default: from the file name)")
    .option("--config <file>", "the .sops.yaml to use for a new file")
    .addHelpText(
      "after",
      `
The plaintext copy lives in a private temporary folder (0700, file 0600) and is removed
afterwards, also when the editor fails. Unchanged values keep their exact ciphertext,
so the Git diff shows only what you changed.

Examples:
  $ opsc secrets edit credentials/prod.sops.yaml
  $ EDITOR="code --wait" opsc secrets edit credentials/staging.sops.yaml`,
    )
    .action(async (file: string, opts: FormatOpts & RuleOpts) => {
      if ((await workspace.edit(file, opts, runEditor)) === "unchanged")
        process.stderr.write(`No changes; ${file} left as it was.\n`);
      else process.stderr.write(`Saved ${file}.\n`);
    });

  secrets
    .command("set")
    .description("Set one value, read from stdin (never from the command line), creating the file if needed")
    .argument("<file>", "an encrypted SOPS file (created with the creation rules if missing)")
    .argument("<keypath>", "dotted key path, e.g. ssh.private_key")
    .option("--config <file>", "the .sops.yaml to use for a new file")
    .addHelpText(
      "after",
      `
A single-line value loses its one trailing newline (so \`echo\` works); a multi-line value,
such as a private key, is kept exactly.

Examples:
  $ opsc secrets set credentials/prod.sops.yaml ssh.private_key < ~/.ssh/deploy_ed25519
  $ printf '%s' "$API_TOKEN" | opsc secrets set credentials/prod.sops.yaml api.token`,
    )
    .action(async (file: string, keypath: string, opts: RuleOpts) => {
      // A bad key path is refused before the value is read.
      workspace.checkKeyPath(file, keypath);
      let value = await readStdin();
      if (value.endsWith("\n") && value.indexOf("\n") === value.length - 1)
        value = value.replace(/\r?\n$/, "");
      await workspace.set(file, keypath, value, opts);
      process.stderr.write(`Set ${keypath} in ${file}.\n`);
    });

  secrets
    .command("updatekeys")
    .description("Re-wrap the data key for the recipients the creation rules name now (values unchanged)")
    .argument("<file>", "an encrypted SOPS file")
    .option("--config <file>", "the .sops.yaml to use")
    .addHelpText(
      "after",
      `
Adding a recipient needs only this. After REMOVING a recipient, also run \`opsc secrets rotate\`:
whoever held the old data key can still read the old ciphertext.

Example:
  $ opsc secrets updatekeys credentials/prod.sops.yaml`,
    )
    .action(async (file: string, opts: RuleOpts) => {
      const { added, removed } = await workspace.updateKeys(file, opts);
      if (added.length === 0 && removed.length === 0) {
        process.stderr.write(`${file}: recipients already up to date.\n`);
        return;
      }
      for (const r of added) process.stderr.write(`+ ${r}\n`);
      for (const r of removed) process.stderr.write(`- ${r}\n`);
      if (removed.length > 0)
        process.stderr.write(`Recipients were removed: run \`opsc secrets rotate ${file}\` next.\n`);
    });

  secrets
    .command("rotate")
    .description("Re-encrypt every value under a new data key (after removing a recipient, or on schedule)")
    .argument("<file>", "an encrypted SOPS file")
    .option("--add-age <recipients>", "comma-separated recipients to add while rotating")
    .option("--rm-age <recipients>", "comma-separated recipients to remove while rotating")
    .addHelpText(
      "after",
      `
Rotating the data key does not change the secrets themselves: if a removed person may have
read them, change the credentials at their source too.

Examples:
  $ opsc secrets rotate credentials/prod.sops.yaml
  $ opsc secrets rotate --rm-age age1old... credentials/prod.sops.yaml`,
    )
    .action(async (file: string, opts: { addAge?: string; rmAge?: string }) => {
      const recipients = await workspace.rotate(file, opts);
      process.stderr.write(`Rotated the data key of ${file} (${recipients} recipient(s)).\n`);
    });
}
