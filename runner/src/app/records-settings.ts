/**
 * The `records:` settings for the history commands. They read only
 * opsconductor.yaml, so `opsc runs` and `opsc audit` still work while a job
 * file in the repository has a mistake.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import type { Settings } from "../core/repo-model.js";
import type { RawSettings } from "../repo/raw-types.js";
import { buildSettings } from "../repo/build-model.js";

export function readRecordsSettings(root: string): Pick<Settings, "records"> {
  let text: string;
  try {
    text = readFileSync(join(root, "opsconductor.yaml"), "utf8");
  } catch (e) {
    throw userError("records.settings", `opsconductor.yaml cannot be read: ${errorText(e)}`, {
      position: { file: "opsconductor.yaml", line: 1, col: 1 },
      hint: "run `opsc validate` to see the problem",
    });
  }
  const { docs, lines, problem } = parseYaml(text);
  if (problem) throw yamlProblemError(problem, "opsconductor.yaml", lines);
  const error = docs[0]!.errors[0];
  if (error) {
    const p = lines.linePos(error.pos[0]);
    throw userError(
      "records.settings",
      `opsconductor.yaml is not valid YAML: ${error.message.split("\n")[0]}`,
      {
        position: { file: "opsconductor.yaml", line: p.line, col: p.col },
        hint: "run `opsc validate` to see the problem",
      },
    );
  }
  // parseYaml bounded aliases and depth already.
  const raw: unknown = docs[0]!.toJS({ maxAliasCount: -1 });
  const settings = buildSettings(raw !== null && typeof raw === "object" ? (raw as RawSettings) : undefined, {
    file: "opsconductor.yaml",
    line: 1,
    col: 1,
  });
  return { records: settings.records };
}
