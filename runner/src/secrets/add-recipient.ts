/**
 * Adds an age recipient to one creation rule of `.sops.yaml`, editing the
 * document in place so comments, order and layout of everything else stay as
 * the user wrote them. Pure: text in, text out.
 */
import YAML from "yaml";
import { userError } from "../core/errors.js";
import { parseCreationRules } from "./creation-rules.js";

export interface AddRecipientResult {
  text: string;
  /** False when the rule already named the recipient. */
  changed: boolean;
}

export function addRecipientToRule(
  text: string,
  pathRegex: string,
  recipient: string,
  file = ".sops.yaml",
): AddRecipientResult {
  const config = parseCreationRules(text, file); // refuses a broken file with its position
  const index = config.rules.findIndex((r) => r.pathRegex === pathRegex);
  if (index < 0) {
    const known = config.rules.map((r) => r.pathRegex ?? "(a rule without path_regex)");
    throw userError("secrets.no-such-rule", `${file} has no creation rule with path_regex ${pathRegex}`, {
      hint: known.length
        ? `give one of its path_regex values exactly: ${known.join(", ")}`
        : "add a creation rule to it first (see docs/secrets.md)",
    });
  }
  if (config.rules[index]!.recipients.includes(recipient)) return { text, changed: false };

  const doc = YAML.parseDocument(text);
  const rule = doc.getIn(["creation_rules", index], true) as YAML.YAMLMap;
  const groups = rule.get("key_groups", true);
  const owner =
    rule.has("age") || !YAML.isSeq(groups) || groups.items.length === 0
      ? rule
      : (groups.items[0] as YAML.YAMLMap);
  const age = owner.get("age", true);
  if (YAML.isSeq(age)) {
    age.add(doc.createNode(recipient));
  } else if (YAML.isScalar(age) && typeof age.value === "string" && age.value.trim() !== "") {
    const list = age.value.trimEnd().replace(/,$/, "");
    // A folded block (`>-`) is re-folded at the line width, so recipients stay one per line.
    age.value =
      age.type === YAML.Scalar.BLOCK_FOLDED || age.type === YAML.Scalar.BLOCK_LITERAL
        ? `${list}, ${recipient}`
        : `${list},${recipient}`;
  } else {
    owner.set("age", recipient);
  }
  const out = doc.toString();
  const check = parseCreationRules(out, file);
  if (!check.rules[index]?.recipients.includes(recipient)) {
    throw new Error(`adding a recipient to ${file} lost it`); // a bug, not the user's mistake
  }
  return { text: out, changed: true };
}
