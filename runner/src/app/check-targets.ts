/**
 * `opsc targets check` as a use case: the targets a selector names, each
 * connected to with its credentials (host key verified), `true` run and both
 * timed. What comes back has every credential value masked.
 */
import { userError } from "../core/errors.js";
import type { RepoModel, TargetDef } from "../core/repo-model.js";
import { planTarget } from "../plan/plan-target.js";
import { selectTargets } from "../plan/select-targets.js";
import { CredentialStore } from "../secrets/credential-store.js";
import { Redactor } from "../secrets/redactor.js";
import { checkTargets, type TargetCheck } from "../transports/check-targets.js";
import { createTransportFactory } from "../transports/transport-factory.js";
import { loadValidRepo } from "./load-plan.js";

export type { TargetCheck };

export interface CheckTargetsRequest {
  repoDir: string;
  /** Target names or globs, or label=value (all must match); empty: every target. */
  selector: string[];
  /** Targets checked at once. */
  parallel: number;
  /** Per-target connect and exec timeout in ms. */
  timeoutMs: number;
  /** Read the repository at this commit (the server's mirror) instead of the working tree. */
  commit?: string;
  /** Where the age identities are looked up (SOPS_AGE_KEY...); default: this process's environment. */
  env?: NodeJS.ProcessEnv;
}

export async function checkRepoTargets(request: CheckTargetsRequest): Promise<TargetCheck[]> {
  const { model, files } = await loadValidRepo({
    repoDir: request.repoDir,
    ...(request.commit ? { commit: request.commit } : {}),
  });
  const chosen = select(model, request.selector);
  if (chosen.length === 0)
    throw userError("targets.none", `no target matches ${request.selector.join(" ") || "(all)"}`);
  const redactor = new Redactor();
  const credentials = CredentialStore.forFiles(files.files, redactor, request.env);
  const factory = createTransportFactory({
    redactor,
    connectTimeoutMs: request.timeoutMs,
    credentials,
  });
  const results = await checkTargets(
    chosen.map((t) => planTarget(model, t)),
    factory.transportFor,
    { parallel: request.parallel, timeoutMs: request.timeoutMs },
  );
  return redactor.redactDeep(results);
}

function select(model: RepoModel, selector: string[]): TargetDef[] {
  const match = Object.fromEntries(
    selector
      .filter((s) => s.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const names = selector.filter((s) => !s.includes("="));
  return selectTargets(model.targets.values(), {}, { ...(names.length ? { names } : {}), match });
}
