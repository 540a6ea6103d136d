/**
 * The GitHub Action's door: translates the action's inputs and the workflow's
 * event into the same calls the CLI makes. Bundled into action/dist/index.js
 * (scripts/build-action.mjs), which GitHub's runner starts with node.
 */
import * as core from "@actions/core";
import { isOpscError } from "../../runner/src/core/errors.js";
import { readActionInputs } from "./action-inputs.js";
import { diffStep } from "./diff-step.js";
import { readGithubEvent } from "./github-event.js";
import { onPushStep } from "./on-push-step.js";
import { planStep } from "./plan-step.js";
import { runStep } from "./run-step.js";
import { validateStep } from "./validate-step.js";

export async function main(): Promise<void> {
  try {
    const inputs = readActionInputs();
    const event = readGithubEvent();
    switch (inputs.command) {
      case "validate":
        return await validateStep(inputs);
      case "plan":
        return await planStep(inputs, event);
      case "diff":
        return await diffStep(inputs, event);
      case "run":
        return await runStep(inputs, event);
      case "on-push":
        return await onPushStep(inputs, event);
    }
  } catch (e) {
    core.setOutput("result", "failure");
    if (isOpscError(e)) {
      // A mistake in the workflow or the repository: the message and what to do, no stack trace.
      const where = e.position ? `${e.position.file}:${e.position.line}:${e.position.col}: ` : "";
      core.setFailed(`${where}${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}`);
      if (e.kind === "bug" && e.stack) core.debug(e.stack);
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    core.setFailed(`internal error: ${err.message} (this is a bug in OpsConductor; please report it)`);
    if (err.stack) core.info(err.stack);
  }
}

await main();
