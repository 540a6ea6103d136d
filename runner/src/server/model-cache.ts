/**
 * The repository models the runner reads from its mirror, by commit: loaded
 * once a commit (a push's resolution hands its model in), a few kept. It also
 * knows the default branch, whose head is what hooks, the API, schedules and
 * the access policy read.
 */
import type { Logger } from "pino";
import type { AccessPolicy } from "../core/access-policy.js";
import type { Diagnostic } from "../core/diagnostic.js";
import type { RepoModel, Settings } from "../core/repo-model.js";
import type { RepoMirror } from "../git/repo-mirror.js";
import { readLibraries } from "../app/read-libraries.js";
import { ACCESS_FILE, loadRepo } from "../repo/load-repo.js";
import type { RepoFiles } from "../repo/repo-files.js";

/** Models (and hook secrets) kept, by commit. */
export const MODEL_CACHE = 8;

export interface LoadedModel {
  model: RepoModel;
  errors: Diagnostic[];
  /** The files it was loaded from: a run at this commit need not read them again. */
  files: RepoFiles;
}

export class ModelCache {
  private readonly models = new Map<string, LoadedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();
  private goodAccess: { commit: string; policy: AccessPolicy | undefined } | undefined;
  defaultBranch = "main";

  constructor(private readonly o: { mirror: RepoMirror; logger: Logger }) {}

  /** Reads the default branch from the mirror (at start). */
  async loadDefaultBranch(): Promise<void> {
    this.defaultBranch = await this.o.mirror.defaultBranch();
  }

  headCommit(): Promise<string> {
    return this.o.mirror.branchHead(this.defaultBranch);
  }

  async at(commit: string): Promise<LoadedModel> {
    const hit = this.models.get(commit);
    if (hit) return hit;
    // Callers that ask for the same commit at once (a push's resolution, its hook secrets) share one load.
    let loading = this.loading.get(commit);
    if (!loading) {
      loading = this.load(commit).finally(() => this.loading.delete(commit));
      this.loading.set(commit, loading);
    }
    return loading;
  }

  private async load(commit: string): Promise<LoadedModel> {
    const files = await this.o.mirror.repository.readFiles(commit);
    const { model, diagnostics } = loadRepo(files, await readLibraries(files));
    const loaded = { model, errors: diagnostics.filter((d) => d.severity === "error"), files };
    this.remember(commit, loaded);
    return loaded;
  }

  /** A model already loaded, without loading one. */
  known(commit: string): LoadedModel | undefined {
    return this.models.get(commit);
  }

  remember(commit: string, loaded: LoadedModel): void {
    this.models.set(commit, loaded);
    if (this.models.size > MODEL_CACHE) this.models.delete(this.models.keys().next().value!);
  }

  /**
   * The access policy at the head of the default branch in the mirror. When
   * access.yaml there does not validate, the last good policy stays in force.
   */
  async accessPolicy(): Promise<AccessPolicy | undefined> {
    const head = await this.headCommit();
    if (this.goodAccess?.commit === head) return this.goodAccess.policy;
    const { model, errors } = await this.at(head);
    if (errors.some((d) => d.file === ACCESS_FILE)) {
      this.o.logger.warn(
        { commit: head, errors: errors.filter((d) => d.file === ACCESS_FILE).slice(0, 5) },
        "access.yaml does not validate: the last good policy stays in force",
      );
      // No good policy yet: nobody but the bootstrap token gets in.
      return this.goodAccess?.policy ?? { roles: new Map(), members: [] };
    }
    this.goodAccess = { commit: head, policy: model.access };
    return model.access;
  }

  /** Settings at the default branch's head (where records of access events go). */
  async headSettings(): Promise<Settings> {
    return (await this.at(await this.headCommit())).model.settings;
  }
}
