/**
 * Validation speed on a generated repository of 5,000 files, as a ratio to
 * parsing the same files with `yaml` alone (the floor, measured in the same run).
 * Target: load + validate at most 2x parse-only.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { loadRepo } from "../src/repo/load-repo.js";
import { readRepoDir } from "../src/repo/read-dir.js";

export interface BenchValidateOptions {
  /** Files in the generated repository. Default 5000. */
  files?: number;
  /** Timed repetitions; the median is reported. Default 5. */
  runs?: number;
  log?: (line: string) => void;
}

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYiWAnY2RAnJAH2Xi5spiPRnIE2lGgJd6DAqaJnGV98";

/** A repository shaped like a large real one: many small jobs and steps, targets in files of 20. */
export function generate(root: string, total: number): string[] {
  const files = new Map<string, string>();
  files.set("opsconductor.yaml", "name: bench\ndefaults: { parallel: 20 }\n");
  files.set(
    "credentials/prod.sops.yaml",
    "ssh:\n    private_key: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    version: 3.10.2\n",
  );
  const rest = total - files.size;
  const targetFiles = Math.max(1, Math.floor(rest * 0.1));
  const stepFiles = Math.floor(rest * 0.45);
  const jobFiles = rest - targetFiles - stepFiles;
  for (let f = 0; f < targetFiles; f++) {
    let body = `defaults: { user: deploy, credential: prod/ssh, labels: { env: prod, group: g${f % 10} } }\ntargets:\n`;
    for (let i = 0; i < 20; i++)
      body += `  host-${f}-${i}: { host: 10.${f % 250}.${i}.1, host_key: "${HOST_KEY}", labels: { role: r${i % 5} } }\n`;
    files.set(`targets/t${f}.yaml`, body);
  }
  for (let s = 0; s < stepFiles; s++) {
    files.set(
      `steps/lib${s % 50}/step${s}.yaml`,
      `description: Library step ${s}
inputs:
  name: { type: string, pattern: "^[a-z0-9-]+$" }
  count: { type: integer, minimum: 1, default: 1 }
check: test -f /var/lib/bench/$INPUT_NAME
run: |
  for i in $(seq "$INPUT_COUNT"); do echo "$INPUT_NAME $i"; done
  touch /var/lib/bench/$INPUT_NAME
sudo: true
timeout: 5m
`,
    );
  }
  for (let j = 0; j < jobFiles; j++) {
    const s = j % stepFiles;
    files.set(
      `jobs/team${j % 40}/job${j}.yaml`,
      `description: Job ${j}
on:
  push: { branches: [main], paths: ["jobs/team${j % 40}/**"] }
  schedule: [{ cron: "${j % 60} 3 * * 1", timezone: Europe/Berlin }]
inputs:
  item: { type: string, default: item-${j} }
targets: { match: { role: r${j % 5} } }
strategy: { parallel: 10, batch: 25% }
steps:
  - id: first
    uses: lib${s % 50}/step${s}
    with: { name: "\${{ inputs.item }}", count: 2 }
  - id: second
    run: echo done
    if: \${{ steps.first.changed }}
    env: { ITEM: "\${{ inputs.item }}" }
`,
    );
  }
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return [...files.keys()];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchValidate(opts: BenchValidateOptions = {}): Promise<void> {
  const total = opts.files ?? 5000;
  const runs = opts.runs ?? 5;
  const log = opts.log ?? ((line: string) => console.log(line));
  const root = mkdtempSync(join(tmpdir(), "opsc-bench-validate-"));
  try {
    const paths = generate(root, total);
    // Warm up both paths (JIT, ajv compilation, file cache) before timing.
    for (const p of paths) parse(readFileSync(join(root, p), "utf8"));
    const warm = loadRepo(await readRepoDir(root));
    const errors = warm.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0)
      throw new Error(`generated repository does not validate: ${errors[0]!.code} ${errors[0]!.message}`);

    const floor: number[] = [];
    const full: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t = performance.now();
      for (const p of paths) parse(readFileSync(join(root, p), "utf8"));
      floor.push(performance.now() - t);
      t = performance.now();
      loadRepo(await readRepoDir(root));
      full.push(performance.now() - t);
    }
    const f = median(floor);
    const v = median(full);
    const ratio = v / f;
    log(
      `validate: ${paths.length} files (${warm.model.jobs.size} jobs, ${warm.model.steps.size} steps, ${warm.model.targets.size} targets)`,
    );
    log(`  read + yaml.parse only : ${f.toFixed(0)} ms  (${Math.round((paths.length / f) * 1000)} files/s)`);
    log(`  read + load + validate : ${v.toFixed(0)} ms  (${Math.round((paths.length / v) * 1000)} files/s)`);
    log(
      `  ratio                  : ${ratio.toFixed(2)}x parse-only (target <= 2x) ${ratio <= 2 ? "ok" : "OVER TARGET"}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// Run directly: `npx tsx runner/bench/validate.ts`
if (import.meta.url === `file://${process.argv[1]}`) await benchValidate();
