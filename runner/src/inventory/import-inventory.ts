/**
 * `opsc import ansible-inventory`, minus the files: inventory text in, a
 * targets file (or a merge into one) out. Pure, so tests feed it fixtures.
 */
import type { AnsibleInventory } from "./ansible-inventory.js";
import { inventoryToTargets, type ConvertedInventory } from "./inventory-to-targets.js";
import { mergeTargets, type MergeResult } from "./merge-targets.js";
import { parseIniInventory } from "./parse-ini-inventory.js";
import { parseYamlInventory } from "./parse-yaml-inventory.js";

export type InventoryFormat = "ini" | "yaml";

/** As Ansible picks its plugin: YAML for .yml/.yaml/.json; otherwise INI unless the text is plainly YAML. */
export function detectFormat(file: string, text: string): InventoryFormat {
  if (/\.(ya?ml|json)$/i.test(file)) return "yaml";
  if (/\.(ini|cfg)$/i.test(file)) return "ini";
  const first = text.split(/\r?\n/).find((l) => l.trim() !== "" && !/^\s*[#;]/.test(l)) ?? "";
  return /^(---|[A-Za-z0-9_-]+:\s*$)/.test(first.trim()) ? "yaml" : "ini";
}

export function parseInventory(
  text: string,
  file: string,
  format: InventoryFormat = detectFormat(file, text),
): AnsibleInventory {
  return format === "yaml" ? parseYamlInventory(text, file) : parseIniInventory(text, file);
}

export interface ImportResult extends MergeResult {
  converted: ConvertedInventory;
}

/**
 * Converts `text` (the inventory at `file`) and merges the targets into
 * `existing` (the current content of the targets file, or undefined for a new one).
 */
export function importAnsibleInventory(
  text: string,
  file: string,
  options: { existing?: string; targetsFile?: string; format?: InventoryFormat } = {},
): ImportResult {
  const converted = inventoryToTargets(parseInventory(text, file, options.format));
  const merged = mergeTargets(
    options.existing,
    converted.targets.map((t) => ({ id: t.id, fields: t.fields })),
    {
      file: options.targetsFile ?? "targets file",
      header: ` Imported from the Ansible inventory ${file.split(/[\\/]/).pop() ?? file} by \`opsc import ansible-inventory\`.\n Groups are labels \`group/<name>: "true"\`; see docs/migrating-from-ansible.md.`,
      defaults: converted.defaults,
    },
  );
  return { ...merged, converted };
}
