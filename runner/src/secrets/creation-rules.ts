/**
 * `.sops.yaml` creation rules, read the way sops reads them (`config/config.go`):
 * the first rule whose `path_regex` matches the file path (relative to the
 * directory holding `.sops.yaml`) decides the recipients and which values are
 * encrypted. Only age recipients are used here; other key types are refused so
 * that a file is never silently written for fewer people than configured.
 */
import type { Node, YAMLSeq } from "yaml";
import { userError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import { compileGoRegex } from "./sops-file.js";
import { CRYPT_RULE_KEYS, DEFAULT_RULE, type CryptRule } from "./sops-metadata.js";

export interface CreationRule {
  pathRegex?: string;
  recipients: string[];
  rule: CryptRule;
  macOnlyEncrypted: boolean;
}

export interface SopsConfig {
  rules: CreationRule[];
  /** stores.yaml.indent (sops default 4). */
  yamlIndent?: number;
}

const OTHER_KEYS = ["pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri", "hckms"];

function splitRecipients(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list
    .flatMap((x) => String(x).split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function parseCreationRules(text: string, file = ".sops.yaml"): SopsConfig {
  const { docs, lines: lineCounter, problem } = parseYaml(text);
  if (problem) throw yamlProblemError(problem, file, lineCounter);
  const doc = docs[0]!;
  const err = (message: string, offset = 0, hint = "fix .sops.yaml") => {
    const p = lineCounter.linePos(offset);
    return userError("secrets.bad-config", message, { position: { file, line: p.line, col: p.col }, hint });
  };
  const first = doc.errors[0];
  if (first) throw err(`not valid YAML: ${first.message.split("\n")[0] ?? ""}`, first.pos[0]);
  // parseYaml bounded aliases and depth already.
  const raw: unknown = doc.toJS({ maxAliasCount: -1 }) ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw err("the top level must be a mapping");
  const top = raw as Record<string, unknown>;
  const rulesRaw = top.creation_rules ?? [];
  if (!Array.isArray(rulesRaw)) throw err("creation_rules must be a list");
  const rulesNode = doc.get("creation_rules", true) as YAMLSeq | undefined;
  const rules = rulesRaw.map((r: unknown, i: number): CreationRule => {
    const offset = (rulesNode?.items?.[i] as Node | undefined)?.range?.[0] ?? 0;
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw err(`creation rule ${i + 1} must be a mapping`, offset);
    const rule = r as Record<string, unknown>;
    let recipients = splitRecipients(rule.age);
    const groups = rule.key_groups;
    if (Array.isArray(groups)) {
      if (groups.length > 1)
        throw err(
          `creation rule ${i + 1}: several key_groups (Shamir) are not supported`,
          offset,
          "use one key group or plain `age:`",
        );
      const g = groups[0] as Record<string, unknown> | undefined;
      recipients = [...recipients, ...splitRecipients(g?.age)];
      for (const k of OTHER_KEYS)
        if (g && g[k] !== undefined)
          throw err(`creation rule ${i + 1}: ${k} keys are not supported, only age`, offset);
    }
    for (const k of OTHER_KEYS) {
      if (rule[k] !== undefined && rule[k] !== "" && rule[k] !== null) {
        throw err(
          `creation rule ${i + 1}: ${k} keys are not supported, only age`,
          offset,
          "remove them or keep this file for the sops CLI",
        );
      }
    }
    const present = CRYPT_RULE_KEYS.filter(
      (k) => rule[k] !== undefined && rule[k] !== null && rule[k] !== "",
    );
    if (present.length > 1)
      throw err(`creation rule ${i + 1} sets ${present.join(" and ")}; sops allows only one`, offset);
    const kind = present[0];
    const crypt: CryptRule = kind ? { kind, value: String(rule[kind]) } : DEFAULT_RULE;
    if (crypt.kind.endsWith("_regex")) compileGoRegex(crypt.value);
    const pathRegex =
      rule.path_regex === undefined || rule.path_regex === null ? undefined : String(rule.path_regex);
    if (pathRegex !== undefined) compileGoRegex(pathRegex);
    return {
      ...(pathRegex !== undefined ? { pathRegex } : {}),
      recipients,
      rule: crypt,
      macOnlyEncrypted: rule.mac_only_encrypted === true,
    };
  });
  const stores = top.stores as Record<string, Record<string, unknown> | undefined> | undefined;
  const indent = stores?.yaml?.indent;
  return { rules, ...(typeof indent === "number" ? { yamlIndent: indent } : {}) };
}

/** The first rule matching `relativePath` (forward slashes, relative to the `.sops.yaml` directory). */
export function ruleForPath(config: SopsConfig, relativePath: string): CreationRule | undefined {
  return config.rules.find(
    (r) => r.pathRegex === undefined || compileGoRegex(r.pathRegex).test(relativePath),
  );
}
