/**
 * The SOPS workspace: files encrypted for age, with recipients and rules from
 * the `.sops.yaml` found from a file's folder upwards, like the sops CLI. The
 * `opsc secrets` command parses flags, calls these, and prints; the crypto and
 * YAML modules come in with this module, which the command loads on use.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import * as age from "age-encryption";
import { errorText } from "../core/error-text.js";
import { environmentError, isOpscError, usageError, userError } from "../core/errors.js";
import { findUp } from "../fs/find-up.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { addRecipientToRule } from "../secrets/add-recipient.js";
import {
  parseCreationRules,
  ruleForPath,
  type CreationRule,
  type SopsConfig,
} from "../secrets/creation-rules.js";
import { defaultKeyFile, loadIdentities } from "../secrets/identities.js";
import {
  decryptSops,
  encryptSops,
  formatForPath,
  parseSopsText,
  renderPlain,
  type SopsDocument,
  type SopsFormat,
} from "../secrets/sops-file.js";
import { SopsMap, type SopsNode } from "../secrets/sops-tree.js";

const FORMATS = ["yaml", "json", "dotenv", "binary"];

export interface FormatOpts {
  /** yaml, json, dotenv or binary; default: from the file name. */
  inputType?: string;
}

export interface RuleOpts {
  /** Comma-separated age recipients, instead of the creation rule's. */
  age?: string;
  /** The `.sops.yaml` to use; default: searched from the file's folder upwards. */
  config?: string;
}

export interface KeygenOpts {
  out?: string;
  pq?: boolean;
  addToRule?: string;
  config?: string;
}

/** Opens the editor on a plaintext copy and resolves once it was closed. */
export type EditInPlace = (path: string) => Promise<void>;

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

function list(s?: string): string[] {
  return (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** The file operations of `opsc secrets`, each reading and writing the workspace's SOPS files. */
export const secretsWorkspace = {
  /** Where `keygen` writes by default (the sops key file location). */
  defaultKeyFile,

  /**
   * Creates an age identity file (mode 0600, never over an existing file),
   * and adds its recipient to a creation rule when asked. The rule is
   * checked before the identity is written: a typo leaves no orphan key.
   */
  async keygen(opts: KeygenOpts): Promise<{ file: string; recipient: string; rulePath?: string }> {
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
    if (edit) writeFileAtomic(edit.path, edit.text);
    return { file, recipient, ...(edit ? { rulePath: edit.path } : {}) };
  },

  /** Encrypts a plaintext file in place for its creation rule's recipients; answers how many. */
  async encrypt(file: string, opts: RuleOpts & FormatOpts): Promise<number> {
    const format = formatOf(file, opts);
    const branches = parseSopsText(await readText(file), format, file);
    if (branches[0]?.has("sops")) {
      throw userError("secrets.already-encrypted", `${file} is already encrypted`, {
        hint: "use `opsc secrets edit` to change it, or `opsc secrets updatekeys` for new recipients",
      });
    }
    return (await encryptByRules(file, branches, format, opts)).recipients.length;
  },

  /** The decrypted text, in the file's format; only once the whole file decrypts and its MAC matches. */
  async decrypt(file: string, opts: FormatOpts): Promise<string> {
    const doc = await openFile(file, formatOf(file, opts));
    return renderPlain(doc.branches, doc.format);
  },

  /**
   * Lets `editInPlace` change a decrypted copy in a private temporary folder
   * (removed afterwards, also on failure), then re-encrypts it; a new file
   * uses the creation rules. Unchanged values keep their exact ciphertext.
   */
  async edit(
    file: string,
    opts: FormatOpts & RuleOpts,
    editInPlace: EditInPlace,
  ): Promise<"saved" | "unchanged"> {
    const format = formatOf(file, opts);
    const doc = existsSync(file) ? await openFile(file, format) : undefined;
    const before = doc ? renderPlain(doc.branches, format) : format === "json" ? "{}\n" : "";
    const dir = await mkdtemp(join(tmpdir(), "opsc-edit-"));
    try {
      await chmod(dir, 0o700);
      const tmp = join(dir, basename(file).replace(/\.sops(\.[^.]+)$/, "$1"));
      await writeFile(tmp, before, { mode: 0o600, flag: "wx" });
      await editInPlace(tmp);
      const after = await readFile(tmp, "utf8");
      if (after === before) return "unchanged";
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
      else await encryptByRules(file, branches, format, opts);
      return "saved";
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },

  /** Refuses a key path `set` cannot write, before any value is read. */
  checkKeyPath(file: string, keypath: string): void {
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
  },

  /** Sets one value at a dotted key path, creating the file with the creation rules if missing. */
  async set(file: string, keypath: string, value: string, opts: RuleOpts): Promise<void> {
    secretsWorkspace.checkKeyPath(file, keypath);
    const path = keypath.split(".");
    const format = formatForPath(file);
    if (existsSync(file)) {
      const doc = await openFile(file, format);
      const branches = doc.branches.length > 0 ? doc.branches : [new SopsMap()];
      setPath(branches[0] as SopsMap, path, value);
      await reseal(file, doc, branches);
      return;
    }
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
  },

  /** Re-wraps the data key for the recipients the creation rules name now; answers who was added and removed. */
  async updateKeys(file: string, opts: RuleOpts): Promise<{ added: string[]; removed: string[] }> {
    const doc = await openFile(file, formatForPath(file));
    const { rule } = await creationRuleFor(file, opts);
    const old = doc.metadata.age.map((a) => a.recipient);
    const added = rule.recipients.filter((r) => !old.includes(r));
    const removed = old.filter((r) => !rule.recipients.includes(r));
    if (added.length > 0 || removed.length > 0) await reseal(file, doc, doc.branches, rule.recipients);
    return { added, removed };
  },

  /** Re-encrypts every value under a new data key, adding and removing recipients; answers how many remain. */
  async rotate(file: string, opts: { addAge?: string; rmAge?: string }): Promise<number> {
    const doc = await openFile(file, formatForPath(file));
    const remove = list(opts.rmAge);
    const recipients = [
      ...doc.metadata.age.map((a) => a.recipient).filter((r) => !remove.includes(r)),
      ...list(opts.addAge),
    ];
    await reseal(file, doc, doc.branches, [...new Set(recipients)], true);
    return recipients.length;
  },
};

export type SecretsWorkspace = typeof secretsWorkspace;
