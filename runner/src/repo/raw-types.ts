/**
 * Shapes of the files after they passed their JSON Schema (schema/*.json).
 * Only the loader sees these; everyone else reads the RepoModel.
 */
export type Scalar = string | number | boolean;

export interface RawSettings {
  name?: string;
  records?: { branch?: string; push?: boolean };
  defaults?: { shell?: "sh" | "bash" | "powershell"; timeout?: string; parallel?: number };
  notify?: {
    smtp?: {
      host: string;
      port?: number;
      secure?: boolean;
      from: string;
      username?: string;
      password?: string;
    };
  };
}

export interface RawTarget {
  host?: string;
  port?: number;
  user?: string;
  transport?: "ssh" | "local";
  credential?: string;
  host_key?: string | string[];
  jump?: string;
  shell?: "sh" | "bash" | "powershell";
  sudo?: boolean | { enabled?: boolean; user?: string; password?: string };
  labels?: Record<string, Scalar>;
  vars?: Record<string, unknown>;
}

export interface RawTargetsFile {
  defaults?: RawTarget;
  targets: Record<string, RawTarget | null>;
}

export interface RawStepUse {
  id?: string;
  name?: string;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
  check?: string;
  if?: string | boolean;
  env?: Record<string, Scalar>;
  retry?: { attempts: number; delay?: string };
  timeout?: string;
  continue_on_error?: boolean;
  sudo?: boolean;
  shell?: "sh" | "bash" | "powershell";
  copy?: {
    src: string;
    dest: string;
    mode?: string;
    owner?: string;
    group?: string;
    template?: boolean;
    secret?: boolean;
  };
  tags?: string[];
  notify?: string[];
  secrets?: string[];
}

export interface RawVarsFile {
  description?: string;
  match?: Record<string, Scalar | Scalar[]>;
  vars: Record<string, unknown>;
}

export type RawInputs = Record<string, Record<string, unknown>>;

export interface RawStep {
  description?: string;
  inputs?: RawInputs;
  check?: string;
  run?: string;
  steps?: RawStepUse[];
  env?: Record<string, Scalar>;
  sudo?: boolean;
  timeout?: string;
  shell?: "sh" | "bash" | "powershell";
}

export interface RawSelector {
  match?: Record<string, Scalar | Scalar[]>;
  names?: string[];
  exclude?: string[];
}

export interface RawStrategy {
  parallel?: number;
  batch?: number | string;
  max_failures?: number;
}

export interface RawPhase {
  name: string;
  targets?: RawSelector;
  strategy?: RawStrategy;
  steps: RawStepUse[];
}

export interface RawJob {
  description?: string;
  on?: {
    push?: boolean | { branches?: string[]; paths?: string[] };
    schedule?: Array<{ cron: string; timezone?: string; catch_up?: "none" | "latest" | "all" }>;
    webhook?: boolean | { secret?: string; types?: string[] };
    manual?: boolean;
  };
  inputs?: RawInputs;
  targets?: RawSelector;
  strategy?: RawStrategy;
  concurrency?: { group: string; policy?: "queue" | "skip" | "cancel-previous" };
  locks?: "skip" | { wait: string };
  timeout?: string;
  env?: Record<string, Scalar>;
  secrets?: Record<string, string>;
  steps?: RawStepUse[];
  phases?: RawPhase[];
  handlers?: RawStepUse[];
  vars?: Record<string, unknown>;
  facts?: boolean;
  drift?: { schedule?: string; timezone?: string };
  approval?: { required: number; signers: string };
  notify?: Array<{
    on: Array<"started" | "success" | "failure" | "recovered" | "missed" | "drift" | "drift-resolved">;
    webhook?: { url: string; secret?: string };
    email?: { to: string[] };
    github_status?: boolean;
  }>;
}

export interface RawAccess {
  roles: Record<string, { view?: string[]; run?: string[]; admin?: boolean } | null>;
  members: Array<{ user?: string; group?: string; roles: string[] }>;
}
