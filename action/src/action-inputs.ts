/**
 * The action's inputs, read the way GitHub passes them (INPUT_<NAME>
 * variables, through @actions/core) and checked once, so every command gets
 * typed values and a mistake in the workflow file fails with a clear message.
 */
import * as core from "@actions/core";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { errorText } from "../../runner/src/core/error-text.js";
import { usageError, userError } from "../../runner/src/core/errors.js";

export const COMMANDS = ["validate", "plan", "diff", "run", "on-push"] as const;
export type ActionCommand = (typeof COMMANDS)[number];

export interface ActionInputs {
  command: ActionCommand;
  /** Absolute path of the automation repository. */
  repoDir: string;
  /** The repository's folder relative to the workspace (`""` at its root): annotations need workspace paths. */
  relativeDir: string;
  job?: string;
  inputs: Record<string, unknown>;
  ageKey?: string;
  githubToken?: string;
  pushRecords: boolean;
  shard?: string;
}

export function readActionInputs(env: NodeJS.ProcessEnv = process.env): ActionInputs {
  const command = core.getInput("command", { required: true });
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw usageError("action.bad-command", `command: "${command}" is not one of ${COMMANDS.join(", ")}`, {
      hint: "set `with: { command: validate }` (or plan, diff, run, on-push) in the workflow",
    });
  }
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const given = core.getInput("path") || ".";
  const repoDir = path.resolve(workspace, given);
  if (!fs.existsSync(path.join(repoDir, "opsconductor.yaml"))) {
    throw userError(
      "action.no-repo",
      fs.existsSync(repoDir)
        ? `path: ${given} is not an automation repository (it has no opsconductor.yaml)`
        : `path: ${given}: no such folder in the workspace`,
      {
        hint: "check out the repository first (actions/checkout) and set `path` to the folder holding opsconductor.yaml",
      },
    );
  }
  const ageKey = core.getInput("age-key");
  const githubToken = core.getInput("github-token");
  // Registered first, so neither value can appear in this step's log whatever happens next.
  if (ageKey) core.setSecret(ageKey);
  if (githubToken) core.setSecret(githubToken);
  const job = core.getInput("job");
  const shard = core.getInput("shard");
  return {
    command: command as ActionCommand,
    repoDir,
    relativeDir: path.relative(workspace, repoDir).split(path.sep).join("/"),
    ...(job ? { job } : {}),
    inputs: parseJobInputs(core.getInput("inputs")),
    ...(ageKey ? { ageKey } : {}),
    ...(githubToken ? { githubToken } : {}),
    pushRecords: (core.getInput("push-records") || "true").toLowerCase() !== "false",
    ...(shard ? { shard } : {}),
  };
}

/** `inputs:` is a YAML (or JSON) mapping of job inputs: `{ package: openssl }` or one `name: value` a line. */
export function parseJobInputs(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (e) {
    throw usageError("action.bad-inputs", `inputs: not YAML: ${errorText(e).split("\n")[0]}`, {
      hint: "give a mapping, one `name: value` a line, e.g. `inputs: |` then `  package: openssl`",
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw usageError("action.bad-inputs", "inputs: expected a mapping of input names to values", {
      hint: "for example `inputs: '{ package: openssl }'`",
    });
  }
  return value as Record<string, unknown>;
}

/** The job input, which these commands cannot do without. */
export function requireJob(inputs: ActionInputs): string {
  if (!inputs.job) {
    throw usageError("action.no-job", `command ${inputs.command} needs the \`job\` input`, {
      hint: "set `with: { job: patch-web }` (a job id: its path under jobs/ without .yaml)",
    });
  }
  return inputs.job;
}
