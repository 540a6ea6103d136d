/** `opsc secrets keygen|encrypt|decrypt|edit|set|updatekeys|rotate`: SOPS files for age, like the sops CLI. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type * as Age from "age-encryption";
import type { Command } from "commander";
import { errorText } from "../../core/error-text.js";
import { environmentError, isOpscError, usageError, userError } from "../../core/errors.js";
import type * as CreationRules from "../../secrets/creation-rules.js";
import type { CreationRule, SopsConfig } from "../../secrets/creation-rules.js";
import type * as Identities from "../../secrets/identities.js";
import type * as SopsFile from "../../secrets/sops-file.js";
import type { SopsDocument, SopsFormat } from "../../secrets/sops-file.js";
import type * as AddRecipient from "../../secrets/add-recipient.js";
import { findUp } from "../../fs/find-up.js";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import { SopsMap, type SopsNode } from "../../secrets/sops-tree.js";

// The crypto and YAML modules are loaded when a `secrets` command runs (the
// preAction hook below), so `opsc --help` and `--version` stay quick.
let age: typeof Age;
let parseCreationRules: typeof CreationRules.parseCreationRules;
let ruleForPath: typeof CreationRules.ruleForPath;
let defaultKeyFile: typeof Identities.defaultKeyFile;
let loadIdentities: typeof Identities.loadIdentities;
let decryptSops: typeof SopsFile.decryptSops;
let encryptSops: typeof SopsFile.encryptSops;
let formatForPath: typeof SopsFile.formatForPath;
let parseSopsText: typeof SopsFile.parseSopsText;
let renderPlain: typeof SopsFile.renderPlain;
let addRecipientToRule: typeof AddRecipient.addRecipientToRule;

async function loadSecretsModules(): Promise<void> {
  const [ageModule, rules, identities, sopsFile, addRecipient] = await Promise.all([
    import("age-encryption"),
    import("../../secrets/creation-rules.js"),
    import("../../secrets/identities.js"),
    import("../../secrets/sops-file.js"),
    import("../../secrets/add-recipient.js"),
  ]);
  age = ageModule;
  ({ parseCreationRules, ruleForPath } = rules);
  ({ defaultKeyFile, loadIdentities } = identities);
  ({ decryptSops, encryptSops, formatForPath, parseSopsText, renderPlain } = sopsFile);
  ({ addRecipientToRule } = addRecipient);
}

const FORMATS = ["yaml", "json", "dotenv", "binary"];

interface FormatOpts {
  inputType?: string;
}

function formatOf(file: string, opts: FormatOpts): SopsFormat {
  if (opts.inputType === undefined) return formatForPath(file);
  if (!FORMATS.includes(opts.inputType)) {
    throw usageError("secrets.bad-format", `--input-type must be one of ${FORMATS.join(", ")}`);
  }
  return opts.inputType as SopsFormat;
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw userError("secrets.file-missing", `${file} does not exist`, { hint: "check the path" });
    }
    throw environmentError("secrets.unreadable", `cannot read ${file}: ${errorText(e)}`);
  }
}

interface FoundConfig {
  config: SopsConfig;
  dir: string;
  path: string;
}

/** Looks for `.sops.yaml` from the file's folder upwards (or takes --config). */
async function findConfig(file: string, explicit?: string): Promise<FoundConfig | undefined> {
  if (explicit !== undefined) {
    const text = await readText(explicit);
    return { config: parseCreationRules(text, explicit), dir: dirname(resolve(explicit)), path: explicit };
  }
  const candidate = findUp([".sops.yaml", ".sops.yml"], dirname(resolve(file)));
  if (candidate === undefined) return undefined;
  const text = await readText(candidate);
  return {
    config: parseCreationRules(text, relative(process.cwd(), candidate) || basename(candidate)),
    dir: dirname(candidate),
    path: candidate,
  };
}

/** The `.sops.yaml` text with `recipient` added to the rule with this path_regex. */
async function ruleEdit(
  pathRegex: string,
  recipient: string,
  explicit?: string,
): Promise<{ path: string; text: string }> {
  const found = await findConfig(join(process.cwd(), "keygen"), explicit);
  if (!found) {
    throw userError("secrets.no-config", "no .sops.yaml here or in any folder above", {
      hint: "run it at the automation repository, or name the file with --config",
    });
  }
  const shown = relative(process.cwd(), found.path) || found.path;
  const { text } = addRecipientToRule(await readText(found.path), pathRegex, recipient, shown);
  return { path: found.path, text };
}

interface RuleOpts {
  age?: string;
  config?: string;
}

async function creationRuleFor(
  file: string,
  opts: RuleOpts,
): Promise<{ rule: CreationRule; yamlIndent?: number }> {
  const found = await findConfig(file, opts.config);
  const fromFlag = (opts.age ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  let rule: CreationRule | undefined;
  if (found) {
    const rel = relative(found.dir, resolve(file)).split(sep).join("/");
    rule = ruleForPath(found.config, rel);
    if (!rule && fromFlag.length === 0) {
      throw userError("secrets.no-creation-rule", `no creation rule in ${found.path} matches ${rel}`, {
        hint: "add a rule whose path_regex matches this file, or pass --age age1...",
      });
    }
  }
  const base: CreationRule = rule ?? {
    recipients: [],
    rule: { kind: "unencrypted_suffix", value: "_unencrypted" },
    macOnlyEncrypted: false,
  };
  const recipients = fromFlag.length > 0 ? fromFlag : base.recipients;
  if (recipients.length === 0) {
    throw userError("secrets.no-recipients", `no age recipient for ${file}`, {
      hint: "create .sops.yaml with a creation rule (see `opsc secrets encrypt --help`), or pass --age age1...",
    });
  }
  return {
    rule: { ...base, recipients },
    ...(found?.config.yamlIndent !== undefined ? { yamlIndent: found.config.yamlIndent } : {}),
  };
}

/** Encrypts a new file for the recipients its creation rule (or --age) names, and writes it in place. */
async function encryptByRules(
  file: string,
  branches: SopsMap[],
  format: SopsFormat,
  opts: RuleOpts,
): Promise<CreationRule> {
  const { rule, yamlIndent } = await creationRuleFor(file, opts);
  const out = await encryptSops(branches, format, {
    recipients: rule.recipients,
    rule: rule.rule,
    macOnlyEncrypted: rule.macOnlyEncrypted,
    ...(yamlIndent !== undefined ? { indent: yamlIndent } : {}),
  });
  writeFileAtomic(file, out);
  return rule;
}

async function openFile(file: string, format: SopsFormat): Promise<SopsDocument> {
  const { identities, sources } = await loadIdentities();
  if (identities.length === 0) {
    throw userError("secrets.no-identity", `no age identity is configured, so ${file} cannot be decrypted`, {
      hint: `set SOPS_AGE_KEY_FILE to your identity file, set SOPS_AGE_KEY, or create ${defaultKeyFile()} with \`opsc secrets keygen\``,
    });
  }
  try {
    return await decryptSops(await readText(file), format, identities, { file });
  } catch (e) {
    if (isOpscError(e) && e.code === "secrets.no-identity") {
      throw userError(e.code, e.message, {
        hint: `${e.hint ?? ""} (identities were read from: ${sources.join(", ")})`,
      });
    }
    throw e;
  }
}

/** Writes a document back for the same recipients, rule and data key; unchanged values keep their ciphertext. */
async function reseal(
  file: string,
  doc: SopsDocument,
  branches: SopsMap[],
  recipients?: string[],
  freshKey = false,
): Promise<void> {
  const text = await encryptSops(branches, doc.format, {
    recipients: recipients ?? doc.metadata.age.map((a) => a.recipient),
    rule: doc.metadata.rule,
    macOnlyEncrypted: doc.metadata.macOnlyEncrypted,
    ...(freshKey ? {} : { previous: doc }),
  });
  writeFileAtomic(file, text);
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

function setPath(branch: SopsMap, path: string[], value: string): void {
  let node: SopsMap = branch;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node.set(key, value);
      return;
    }
    let next: SopsNode | undefined = node.get(key);
    if (!(next instanceof SopsMap)) {
      if (next !== undefined && next !== null) {
        throw userError(
          "secrets.key-conflict",
          `"${path.slice(0, i + 1).join(".")}" holds a value, not a mapping`,
          {
            hint: "choose another key path, or remove that value first with `opsc secrets edit`",
          },
        );
      }
      next = new SopsMap();
      node.set(key, next);
    }
    node = next;
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
    .hook("preAction", loadSecretsModules);

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
      const file = opts.out ?? defaultKeyFile();
      if (existsSync(file)) {
        throw userError("secrets.keygen-exists", `${file} already exists; not overwriting an identity`, {
          hint:
            "choose another file with --out, or keep using the existing identity (`grep 'public key' " +
            file +
            "`)",
        });
      }
      const identity = opts.pq ? await age.generateHybridIdentity() : await age.generateX25519Identity();
      const recipient = await age.identityToRecipient(identity);
      // The rule is checked before the identity is written: a typo leaves no orphan key behind.
      const edit =
        opts.addToRule === undefined ? undefined : await ruleEdit(opts.addToRule, recipient, opts.config);
      await mkdir(dirname(resolve(file)), { recursive: true, mode: 0o700 });
      const handle = await open(file, "wx", 0o600);
      try {
        await handle.writeFile(
          `# created: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}\n# public key: ${recipient}\n${identity}\n`,
        );
        await handle.chmod(0o600);
      } finally {
        await handle.close();
      }
      process.stderr.write(`Wrote the identity to ${file} (mode 0600). Recipient:\n`);
      process.stdout.write(`${recipient}\n`);
      if (edit) {
        writeFileAtomic(edit.path, edit.text);
        process.stderr.write(
          `Added it to the creation rule ${opts.addToRule} in ${edit.path}. It can read existing files\n` +
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
      const format = formatOf(file, opts);
      const text = await readText(file);
      const branches = parseSopsText(text, format, file);
      if (branches[0]?.has("sops")) {
        throw userError("secrets.already-encrypted", `${file} is already encrypted`, {
          hint: "use `opsc secrets edit` to change it, or `opsc secrets updatekeys` for new recipients",
        });
      }
      const rule = await encryptByRules(file, branches, format, opts);
      process.stderr.write(`Encrypted ${file} for ${rule.recipients.length} recipient(s).\n`);
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
      const doc = await openFile(file, formatOf(file, opts));
      process.stdout.write(renderPlain(doc.branches, doc.format));
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
      const format = formatOf(file, opts);
      const exists = existsSync(file);
      const doc = exists ? await openFile(file, format) : undefined;
      const before = doc ? renderPlain(doc.branches, format) : format === "json" ? "{}\n" : "";
      const dir = await mkdtemp(join(tmpdir(), "opsc-edit-"));
      try {
        await chmod(dir, 0o700);
        const tmp = join(dir, basename(file).replace(/\.sops(\.[^.]+)$/, "$1"));
        await writeFile(tmp, before, { mode: 0o600, flag: "wx" });
        await runEditor(tmp);
        const after = await readFile(tmp, "utf8");
        if (after === before) {
          process.stderr.write(`No changes; ${file} left as it was.\n`);
          return;
        }
        let branches: SopsMap[];
        try {
          branches = parseSopsText(after, format, basename(file));
        } catch (e) {
          if (isOpscError(e)) {
            throw userError(
              e.code,
              `your edit is not valid: ${e.message}${e.position ? ` (line ${e.position.line})` : ""}`,
              {
                hint: "nothing was written; run `opsc secrets edit` again and fix it",
              },
            );
          }
          throw e;
        }
        if (doc) await reseal(file, doc, branches);
        else {
          await encryptByRules(file, branches, format, opts);
        }
        process.stderr.write(`Saved ${file}.\n`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
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
      const path = keypath.split(".");
      if (keypath === "" || path.some((p) => p === "") || path[0] === "sops") {
        throw usageError("secrets.bad-keypath", `"${keypath}" is not a key path`, {
          hint: "write dotted keys such as ssh.private_key",
        });
      }
      const format = formatForPath(file);
      if (format === "binary" || (format === "dotenv" && path.length > 1)) {
        throw usageError("secrets.bad-keypath", `cannot set a key path in a ${format} file`, {
          hint: "use a YAML or JSON file",
        });
      }
      let value = await readStdin();
      if (value.endsWith("\n") && value.indexOf("\n") === value.length - 1)
        value = value.replace(/\r?\n$/, "");
      const exists = existsSync(file);
      if (exists) {
        const doc = await openFile(file, format);
        const branches = doc.branches.length > 0 ? doc.branches : [new SopsMap()];
        setPath(branches[0] as SopsMap, path, value);
        await reseal(file, doc, branches);
      } else {
        const branch = new SopsMap();
        setPath(branch, path, value);
        const { rule, yamlIndent } = await creationRuleFor(file, opts);
        await mkdir(dirname(resolve(file)), { recursive: true });
        writeFileAtomic(
          file,
          await encryptSops([branch], format, {
            recipients: rule.recipients,
            rule: rule.rule,
            macOnlyEncrypted: rule.macOnlyEncrypted,
            ...(yamlIndent !== undefined ? { indent: yamlIndent } : {}),
          }),
        );
      }
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
      const doc = await openFile(file, formatForPath(file));
      const { rule } = await creationRuleFor(file, opts);
      const old = doc.metadata.age.map((a) => a.recipient);
      const added = rule.recipients.filter((r) => !old.includes(r));
      const removed = old.filter((r) => !rule.recipients.includes(r));
      if (added.length === 0 && removed.length === 0) {
        process.stderr.write(`${file}: recipients already up to date.\n`);
        return;
      }
      await reseal(file, doc, doc.branches, rule.recipients);
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
      const doc = await openFile(file, formatForPath(file));
      const list = (s?: string) =>
        (s ?? "")
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== "");
      const remove = list(opts.rmAge);
      const recipients = [
        ...doc.metadata.age.map((a) => a.recipient).filter((r) => !remove.includes(r)),
        ...list(opts.addAge),
      ];
      await reseal(file, doc, doc.branches, [...new Set(recipients)], true);
      process.stderr.write(`Rotated the data key of ${file} (${recipients.length} recipient(s)).\n`);
    });
}
