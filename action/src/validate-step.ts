/** `command: validate`: an annotation on every problem, a summary table, the step fails on errors. */
import * as core from "@actions/core";
import { readLibraries } from "../../runner/src/app/read-libraries.js";
import type { Diagnostic } from "../../runner/src/core/diagnostic.js";
import { formatDiagnostics } from "../../runner/src/repo/format-diagnostics.js";
import { loadRepo } from "../../runner/src/repo/load-repo.js";
import { readRepoDir } from "../../runner/src/repo/read-dir.js";
import type { ActionInputs } from "./action-inputs.js";
import { tableCell, workspacePath } from "./markdown.js";

export async function validateStep(inputs: ActionInputs): Promise<void> {
  const files = await readRepoDir(inputs.repoDir);
  const { diagnostics } = loadRepo(files, await readLibraries(files));
  // Annotations name files from the workspace root, where GitHub shows them in the diff.
  const located: Diagnostic[] = diagnostics.map((d) => ({
    ...d,
    file: workspacePath(inputs.relativeDir, d.file),
  }));
  process.stdout.write(formatDiagnostics(located, "github"));
  const errors = located.filter((d) => d.severity === "error").length;
  const warnings = located.length - errors;
  const lines = ["## OpsConductor: validate", ""];
  if (located.length === 0) lines.push("No problems found.");
  else {
    lines.push(
      `${errors} error(s), ${warnings} warning(s).`,
      "",
      "| | where | code | problem |",
      "| --- | --- | --- | --- |",
    );
    for (const d of located) {
      const hint = d.hint ? `<br>hint: ${tableCell(d.hint)}` : "";
      lines.push(
        `| ${d.severity} | \`${tableCell(`${d.file}:${d.line}:${d.col}`)}\` | \`${d.code}\` | ${tableCell(d.message)}${hint} |`,
      );
    }
  }
  await core.summary.addRaw(`${lines.join("\n")}\n`).write();
  core.setOutput("result", errors > 0 ? "failure" : "success");
  if (errors > 0) core.setFailed(`the automation repository has ${errors} error(s); see the annotations`);
}
