import type { Diagnostic } from "../../src/core/diagnostic.js";
import { loadRepo, type LoadResult } from "../../src/repo/load-repo.js";
import type { RepoFiles } from "../../src/repo/repo-files.js";

export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYiWAnY2RAnJAH2Xi5spiPRnIE2lGgJd6DAqaJnGV98";

/** A small repository that validates clean; cases override or add files. */
export const BASE: Record<string, string> = {
  "opsconductor.yaml": "name: test\n",
  "targets/hosts.yaml": `targets:
  web-1: { host: 10.0.0.1, host_key: "${HOST_KEY}", labels: { role: web } }
  local: { transport: local, labels: { role: runner } }
`,
  // Shaped like a SOPS file (key names in clear, a sops block); encryption itself is the secrets tests' business.
  "credentials/prod.sops.yaml": `ssh:
    private_key: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]
db:
    password: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]
sops:
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]
    version: 3.10.2
`,
  "steps/pkg.yaml": `inputs:
  packages: { type: array, items: { type: string }, minItems: 1 }
  update: { type: boolean, default: true }
run: echo $INPUT_PACKAGES
`,
  "jobs/j.yaml": `inputs:
  name: { type: string, default: nginx }
targets: { match: { role: web } }
steps:
  - id: install
    uses: pkg
    with: { packages: ["\${{ inputs.name }}"] }
`,
};

export function filesOf(record: Record<string, string | Uint8Array>): RepoFiles {
  const files = new Map<string, Uint8Array>();
  for (const [path, content] of Object.entries(record)) {
    files.set(path, typeof content === "string" ? new TextEncoder().encode(content) : content);
  }
  return { files };
}

export function load(overrides: Record<string, string | Uint8Array | null> = {}): LoadResult {
  const merged: Record<string, string | Uint8Array> = { ...BASE };
  for (const [path, content] of Object.entries(overrides)) {
    if (content === null) delete merged[path];
    else merged[path] = content;
  }
  return loadRepo(filesOf(merged));
}

export function brief(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.code}`;
}
