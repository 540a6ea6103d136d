import { describe, expect, it } from "vitest";
import { parseCreationRules, ruleForPath } from "../../src/secrets/creation-rules.js";

const CONFIG = `creation_rules:
  - path_regex: ^credentials/prod\\.
    encrypted_regex: ^(password|private_key)$
    age: >-
      age1aaa,
      age1bbb
  - path_regex: \\.sops\\.json$
    key_groups:
      - age:
          - age1ccc
    mac_only_encrypted: true
  - age: age1ddd
stores:
  yaml:
    indent: 2
`;

describe(".sops.yaml creation rules", () => {
  const config = parseCreationRules(CONFIG);
  it("the first matching rule wins; recipients split on commas; key_groups with one group", () => {
    expect(ruleForPath(config, "credentials/prod.sops.yaml")).toEqual({
      pathRegex: "^credentials/prod\\.",
      recipients: ["age1aaa", "age1bbb"],
      rule: { kind: "encrypted_regex", value: "^(password|private_key)$" },
      macOnlyEncrypted: false,
    });
    const json = ruleForPath(config, "credentials/dev.sops.json");
    expect(json?.recipients).toEqual(["age1ccc"]);
    expect(json?.macOnlyEncrypted).toBe(true);
    expect(json?.rule).toEqual({ kind: "unencrypted_suffix", value: "_unencrypted" });
    expect(ruleForPath(config, "x.yaml")?.recipients).toEqual(["age1ddd"]);
    expect(config.yamlIndent).toBe(2);
  });

  it("refuses two crypt rules, other key types, and Go-only regex syntax, with a position", () => {
    expect(() =>
      parseCreationRules("creation_rules:\n  - age: a\n    encrypted_regex: x\n    unencrypted_suffix: _u\n"),
    ).toThrow("creation rule 1 sets unencrypted_suffix and encrypted_regex; sops allows only one");
    try {
      parseCreationRules("creation_rules:\n  - age: a\n  - pgp: ABCDEF\n", "repo/.sops.yaml");
      throw new Error("no error");
    } catch (e) {
      expect((e as Error).message).toBe("creation rule 2: pgp keys are not supported, only age");
      expect((e as { position?: unknown }).position).toEqual({ file: "repo/.sops.yaml", line: 3, col: 5 });
    }
    expect(() => parseCreationRules("creation_rules:\n  - path_regex: (?i)secret\n    age: a\n")).toThrow(
      /Go-only syntax/,
    );
  });
});
