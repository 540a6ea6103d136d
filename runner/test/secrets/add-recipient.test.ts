import { describe, expect, it } from "vitest";
import { addRecipientToRule } from "../../src/secrets/add-recipient.js";
import { parseCreationRules } from "../../src/secrets/creation-rules.js";

const A = `age1${"a".repeat(58)}`;
const B = `age1${"b".repeat(58)}`;
const NEW = `age1${"q".repeat(58)}`;

describe("addRecipientToRule", () => {
  it("extends a folded recipient list one per line, leaving other rules and comments alone", () => {
    const text = `# readers\ncreation_rules:\n  - path_regex: ^credentials/prod\\. # production\n    age: >-\n      ${A},\n      ${B}\n  - path_regex: ^credentials/\n    age: ${A}\n`;
    const out = addRecipientToRule(text, "^credentials/prod\\.", NEW);
    expect(out.changed).toBe(true);
    expect(out.text).toBe(
      `# readers\ncreation_rules:\n  - path_regex: ^credentials/prod\\. # production\n    age: >-\n      ${A},\n      ${B},\n      ${NEW}\n  - path_regex: ^credentials/\n    age: ${A}\n`,
    );
    expect(parseCreationRules(out.text).rules.map((r) => r.recipients)).toEqual([[A, B, NEW], [A]]);
  });

  it("appends to a key group's list, and leaves a rule that has the recipient unchanged", () => {
    const text = `creation_rules:\n  - path_regex: x\n    key_groups:\n      - age:\n          - ${A}\n`;
    const out = addRecipientToRule(text, "x", NEW);
    expect(parseCreationRules(out.text).rules[0]!.recipients).toEqual([A, NEW]);
    expect(addRecipientToRule(out.text, "x", NEW)).toEqual({ text: out.text, changed: false });
  });

  it("gives a rule with no recipient its first one", () => {
    const out = addRecipientToRule("creation_rules:\n  - path_regex: x\n", "x", NEW);
    expect(out.text).toBe(`creation_rules:\n  - path_regex: x\n    age: ${NEW}\n`);
  });
});
