/**
 * `opsc import ansible-inventory` as a use case: an Ansible inventory file as
 * OpsConductor targets, merged into a targets file when one is named.
 */
import { readFileSync } from "node:fs";
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import {
  importAnsibleInventory,
  type ImportResult,
  type InventoryFormat,
} from "../inventory/import-inventory.js";
import { readTargetsFile, writeTargetsFile } from "../inventory/targets-file.js";

export type { ImportResult, InventoryFormat };

/**
 * Converts `file`; with `write`, merges the targets into that file (entries
 * and comments kept) and writes it when something was added.
 */
export function importInventory(request: {
  file: string;
  write?: string;
  format?: InventoryFormat;
}): ImportResult {
  let text: string;
  try {
    text = readFileSync(request.file, "utf8");
  } catch (e) {
    throw userError(
      "import.unreadable",
      `cannot read ${request.file}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`,
      { hint: "give the path of an Ansible inventory file" },
    );
  }
  const existing = request.write ? readTargetsFile(request.write) : undefined;
  const result = importAnsibleInventory(text, request.file, {
    ...(existing !== undefined ? { existing } : {}),
    ...(request.write ? { targetsFile: request.write } : {}),
    ...(request.format ? { format: request.format } : {}),
  });
  if (request.write && result.added.length > 0) writeTargetsFile(request.write, result.text);
  return result;
}
