/**
 * The files of a new automation repository (`opsc init`). Pure: the command
 * writes them. Editors get completion from the schema copies under
 * .opsconductor/schema/, mapped in .vscode/settings.json (yaml-language-server).
 */
import { isRecord } from "../core/is-record.js";
import { SCHEMAS, type FileKind } from "./schemas.js";

export const SCHEMA_DIR = ".opsconductor/schema";

/** YAML files only: opsconductor.lock is JSON, written by `opsc libraries update`, not by hand. */
const SCHEMA_FILES: Record<Exclude<FileKind, "lock">, { file: string; globs: string[] }> = {
  settings: { file: "opsconductor.schema.json", globs: ["opsconductor.yaml"] },
  targets: { file: "targets.schema.json", globs: ["targets/*.yaml"] },
  step: { file: "step.schema.json", globs: ["steps/**/*.yaml"] },
  job: { file: "job.schema.json", globs: ["jobs/**/*.yaml"] },
  access: { file: "access.schema.json", globs: ["access.yaml"] },
  vars: { file: "vars.schema.json", globs: ["vars/*.yaml"] },
};

/** Schema copies and the editor mapping: also what `opsc init --update-schemas` rewrites. */
export function editorFiles(existingSettings?: string): Map<string, string> {
  const files = new Map<string, string>();
  const mapping: Record<string, string[]> = {};
  for (const [kind, { file, globs }] of Object.entries(SCHEMA_FILES) as Array<
    [Exclude<FileKind, "lock">, { file: string; globs: string[] }]
  >) {
    files.set(`${SCHEMA_DIR}/${file}`, `${JSON.stringify(SCHEMAS[kind], null, 2)}\n`);
    mapping[`./${SCHEMA_DIR}/${file}`] = globs;
  }
  let settings: Record<string, unknown> = {};
  if (existingSettings !== undefined) {
    try {
      const parsed = JSON.parse(existingSettings) as unknown;
      if (isRecord(parsed)) settings = parsed;
    } catch {
      // Settings with comments (JSONC) are left alone; the caller reports it.
      return files;
    }
  }
  settings["yaml.schemas"] = {
    ...((settings["yaml.schemas"] as Record<string, unknown> | undefined) ?? {}),
    ...mapping,
  };
  files.set(".vscode/settings.json", `${JSON.stringify(settings, null, 2)}\n`);
  return files;
}

export function initFiles(name: string): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    "opsconductor.yaml",
    `# Settings of this automation repository; the file marks its root.
# Reference: https://opsconductor.dev/docs/repository-format
name: ${JSON.stringify(name)}
records:
  branch: opsconductor/runs # run records and the audit trail are committed here
  push: true
defaults:
  shell: sh
  timeout: 30m
  parallel: 10
`,
  );
  files.set(
    "targets/local.yaml",
    `# Targets: the hosts jobs run on. \`local\` is the runner's own machine.
# An SSH host looks like:
#   web-1: { host: 10.0.1.11, user: deploy, credential: prod/ssh, host_key: "ssh-ed25519 AAAA...", labels: { role: web } }
targets:
  local:
    transport: local
    labels: { env: dev }
`,
  );
  files.set(
    "steps/hello.yaml",
    `# A library step: its id is its path under steps/ without .yaml (here \`hello\`).
# Inputs are JSON Schema; scripts read them as $INPUT_<NAME>, never through \${{ }}.
description: Print a greeting
inputs:
  who: { type: string, minLength: 1, default: world }
run: |
  echo "hello, $INPUT_WHO from $(hostname)"
  echo "greeted=$INPUT_WHO" >> "$OPSC_OUTPUT"
timeout: 1m
`,
  );
  files.set(
    "jobs/hello.yaml",
    `# A job: what runs, where, and when. Try \`opsc plan hello\` and \`opsc run hello\`.
description: Say hello on the local machine
on:
  manual: true
inputs:
  who: { type: string, default: OpsConductor }
targets:
  names: [local]
steps:
  - id: greet
    uses: hello
    with: { who: "\${{ inputs.who }}" }
`,
  );
  files.set(
    ".sops.yaml",
    `# sops creation rules: which age recipients encrypt which credential files.
# Create a key with \`opsc secrets keygen\` (or age-keygen) and put its public
# key (age1...) under \`age:\`, comma-separated for several people or runners.
creation_rules:
  - path_regex: ^credentials/.*\\.sops\\.(yaml|json)$
    # age: age1...
`,
  );
  files.set(
    ".gitignore",
    "# runner state and private keys never belong in Git\n.opsc-state/\n*.agekey\nkeys.txt\n",
  );
  files.set(
    ".gitattributes",
    "# sops files must keep LF line endings, or values change\ncredentials/** -text\n",
  );
  for (const [path, content] of editorFiles()) files.set(path, content);
  return files;
}
