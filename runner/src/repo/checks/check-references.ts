/**
 * References between definitions: `uses:` names a library step, credential
 * references name an existing file and key path (key names are in clear in SOPS
 * files, so no decryption), `jump:` names a target, ids are unique.
 */
import { closest } from "../closest.js";
import { credentialRefProblem } from "../credential-ref.js";
import type { RepoIndex } from "../repo-index.js";
import type { NodePath, YamlSource } from "../yaml-source.js";

export function checkReferences(index: RepoIndex): void {
  checkSettings(index);
  checkTargets(index);
  checkStepUses(index);
  checkJobs(index);
}

function credential(index: RepoIndex, source: YamlSource, path: NodePath, ref: string | undefined): void {
  if (ref === undefined) return;
  const problem = credentialRefProblem(ref, index.model.credentials);
  if (!problem) return;
  // A credential file that does not parse is reported already; do not pile up.
  if (
    problem.code === "ref.unknown-credential-key" &&
    index.brokenCredentials.has(ref.slice(0, ref.lastIndexOf("/")))
  )
    return;
  if (
    problem.code === "ref.unknown-credential-file" &&
    index.brokenCredentials.has(ref.slice(0, ref.lastIndexOf("/")))
  )
    return;
  index.report(source, path, "error", problem.code, problem.message, problem.hint);
}

/** The SMTP password of notifications is a credential reference like any other. */
function checkSettings(index: RepoIndex): void {
  const source = index.sources.get("opsconductor.yaml");
  const password = index.model.settings.notify?.smtp?.password;
  if (source && password !== undefined) credential(index, source, ["notify", "smtp", "password"], password);
}

function checkTargets(index: RepoIndex): void {
  for (const file of index.targetFiles) {
    const d = file.raw.defaults;
    if (!d) continue;
    credential(index, file.source, ["defaults", "credential"], d.credential);
    if (typeof d.sudo === "object")
      credential(index, file.source, ["defaults", "sudo", "password"], d.sudo.password);
    if (d.jump !== undefined && !index.targetExists(d.jump)) {
      index.report(
        file.source,
        ["defaults", "jump"],
        "error",
        "ref.unknown-target",
        `jump target "${d.jump}" is not defined`,
        suggestTarget(index, d.jump),
      );
    }
  }
  // "All errors at once": a target named again in a file with schema errors is still a duplicate.
  const sites = new Map<string, Array<{ source: YamlSource; path: NodePath }>>();
  for (const [id, entries] of index.targets) sites.set(id, [...entries]);
  for (const site of index.brokenTargetSites) sites.set(site.id, [...(sites.get(site.id) ?? []), site]);
  for (const [id, entries] of sites) {
    entries.sort((a, b) => (a.source.file < b.source.file ? -1 : a.source.file > b.source.file ? 1 : 0));
    const first = entries[0]!;
    for (const dup of entries.slice(1)) {
      index.report(
        dup.source,
        dup.path,
        "error",
        "target.duplicate-id",
        `target "${id}" is already defined in ${first.source.file}:${first.source.position(first.path, "key").line}`,
        "target ids are unique across all targets files; rename or remove one",
        { where: "key" },
      );
    }
  }
  for (const [id, entries] of index.targets) {
    for (const entry of entries) {
      const own = entryOwn(entry.source.value, id);
      const t = entry.raw;
      if (own.credential !== undefined)
        credential(index, entry.source, [...entry.path, "credential"], t.credential);
      if (typeof own.sudo === "object" && own.sudo !== null) {
        credential(
          index,
          entry.source,
          [...entry.path, "sudo", "password"],
          (own.sudo as { password?: string }).password,
        );
      }
      if (own.jump !== undefined && t.jump !== undefined && !index.targetExists(t.jump)) {
        index.report(
          entry.source,
          [...entry.path, "jump"],
          "error",
          "ref.unknown-target",
          `jump target "${t.jump}" is not defined`,
          suggestTarget(index, t.jump),
        );
      }
      const transport = t.transport ?? "ssh";
      if (transport === "ssh" && t.host === undefined) {
        index.report(
          entry.source,
          entry.path,
          "error",
          "target.missing-host",
          `target "${id}" has no \`host\``,
          "set `host:` (name or IP address), or `transport: local` to run on the runner's own machine",
          { where: "key" },
        );
      }
      if (transport === "ssh" && t.host !== undefined && t.host_key === undefined) {
        index.report(
          entry.source,
          entry.path,
          "warning",
          "target.no-host-key",
          `target "${id}" has no pinned \`host_key\`; OpsConductor will refuse to connect to it`,
          "read the host's key with `opsc discover HOST --json` or `ssh-keyscan -t ed25519 HOST`, " +
            "check its fingerprint on the host, and set `host_key:`",
          { where: "key" },
        );
      }
    }
  }
}

function entryOwn(fileValue: unknown, id: string): Record<string, unknown> {
  const targets = (fileValue as { targets?: Record<string, unknown> } | undefined)?.targets;
  const own = targets?.[id];
  return own && typeof own === "object" ? (own as Record<string, unknown>) : {};
}

function suggestTarget(index: RepoIndex, name: string): string {
  const guess = closest(name, index.model.targets.keys());
  return guess ? `did you mean "${guess}"?` : "define it in a file under targets/";
}

function checkStepUses(index: RepoIndex): void {
  const seen = new Map<string, Set<string>>();
  for (const site of index.stepUses()) {
    const scope =
      site.owner.kind === "job" ? `job:${site.owner.id}:${site.owner.phase}` : `step:${site.owner.id}`;
    const ids = seen.get(scope) ?? new Set<string>();
    seen.set(scope, ids);
    if (ids.has(site.id)) {
      index.report(
        site.source,
        site.raw.id !== undefined ? [...site.path, "id"] : site.path,
        "error",
        "step.duplicate-id",
        `step id "${site.id}" is used twice in the same ${site.owner.kind === "job" ? "phase" : "composite step"}`,
        "give each step its own `id:`",
      );
    }
    ids.add(site.id);
    const uses = site.raw.uses;
    if (uses !== undefined && !index.stepExists(uses)) {
      const guess = closest(uses, index.model.steps.keys());
      index.report(
        site.source,
        [...site.path, "uses"],
        "error",
        "ref.unknown-step",
        `there is no library step "${uses}"`,
        guess ? `did you mean "${guess}"?` : unknownStepHint(index, uses),
      );
    }
  }
}

function checkJobs(index: RepoIndex): void {
  for (const job of index.jobs.values()) {
    const raw = job.raw;
    for (const [name, ref] of Object.entries(raw.secrets ?? {}))
      credential(index, job.source, ["secrets", name], ref);
    if (typeof raw.on?.webhook === "object")
      credential(index, job.source, ["on", "webhook", "secret"], raw.on.webhook.secret);
    for (const [i, n] of (raw.notify ?? []).entries())
      credential(index, job.source, ["notify", i, "webhook", "secret"], n.webhook?.secret);
    const phases = new Map<string, number>();
    for (const [i, p] of (raw.phases ?? []).entries()) {
      if (!p?.name) continue;
      if (phases.has(p.name)) {
        index.report(
          job.source,
          ["phases", i, "name"],
          "error",
          "job.duplicate-phase",
          `phase "${p.name}" appears twice in this job`,
          "give each phase its own name",
        );
      }
      phases.set(p.name, i);
    }
  }
}

function unknownStepHint(index: RepoIndex, uses: string): string {
  const lib = index.model.libraries?.get(uses.split("/")[0]!);
  if (lib) {
    return `library "${lib.name}" has no steps/${uses.slice(lib.name.length + 1)}.yaml at ${lib.commit.slice(0, 12)} (${lib.ref}); check the name, or update the library`;
  }
  return `create steps/${uses}.yaml, or fix the name`;
}
