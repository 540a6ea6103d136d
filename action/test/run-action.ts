/**
 * Runs the bundled action the way GitHub's runner does: `node
 * action/dist/index.js` with INPUT_* variables, the event payload in a file at
 * GITHUB_EVENT_PATH, and the files GITHUB_STEP_SUMMARY and GITHUB_OUTPUT.
 * Payloads are the real ones from @octokit/webhooks-examples, with the commit
 * ids and refs of the test's repository put in.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BUNDLE = join(PROJECT_ROOT, "action/dist/index.js");

interface WebhookExamples {
  name: string;
  examples: Array<Record<string, unknown>>;
}

/** A real webhook payload of this event (and action, for pull_request), deep-copied. */
export function examplePayload(event: string, action?: string): Record<string, unknown> {
  const all = createRequire(import.meta.url)("@octokit/webhooks-examples") as WebhookExamples[];
  const examples = all.find((e) => e.name === event)?.examples ?? [];
  const found = examples.find((x) => action === undefined || x.action === action);
  if (!found) throw new Error(`no ${event} ${action ?? ""} example in @octokit/webhooks-examples`);
  return structuredClone(found);
}

export interface ActionRun {
  status: number | null;
  stdout: string;
  stderr: string;
  summary: string;
  outputs: Record<string, string>;
}

/** Parses GITHUB_OUTPUT: `name<<DELIMITER` ... `DELIMITER` blocks, as @actions/core writes them. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? "");
    if (m) {
      const [, name, delimiter] = m;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? "");
      out[name!] = value.join("\n");
    } else {
      const eq = (lines[i] ?? "").indexOf("=");
      if (eq > 0) out[lines[i]!.slice(0, eq)] = lines[i]!.slice(eq + 1);
    }
  }
  return out;
}

export interface ActionCall {
  /** Action inputs by their names in action.yml (`github-token`), without defaults applied. */
  inputs: Record<string, string>;
  workspace: string;
  event?: { name: string; payload: Record<string, unknown> };
  env?: Record<string, string>;
}

/**
 * Asynchronous on purpose: the loopback servers a test starts (git, the GitHub
 * API) live in the test's own process and must keep answering while the action runs.
 */
export async function runAction(call: ActionCall): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), "opsc-action-"));
  const summaryFile = join(dir, "summary.md");
  const outputFile = join(dir, "output");
  const eventFile = join(dir, "event.json");
  writeFileSync(summaryFile, "");
  writeFileSync(outputFile, "");
  writeFileSync(eventFile, JSON.stringify(call.event?.payload ?? {}));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_WORKSPACE: call.workspace,
    GITHUB_EVENT_NAME: call.event?.name ?? "workflow_dispatch",
    GITHUB_EVENT_PATH: eventFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_OUTPUT: outputFile,
    GITHUB_ACTOR: "octocat",
    ...call.env,
  };
  // The runner passes every input as INPUT_<NAME>, upper case, spaces as underscores, dashes kept.
  for (const [name, value] of Object.entries(call.inputs))
    env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] = value;
  const child = spawn(process.execPath, [BUNDLE], { cwd: call.workspace, env, timeout: 60_000 });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    status,
    stdout,
    stderr,
    summary: readFileSync(summaryFile, "utf8"),
    outputs: parseOutputs(readFileSync(outputFile, "utf8")),
  };
}
