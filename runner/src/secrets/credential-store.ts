/**
 * Credential references (`prod/ssh.private_key`, `prod/ssh`) resolved against
 * `credentials/<name>.sops.yaml` (or `.sops.json`). Each file is decrypted at
 * most once per store (one store per run), only in memory, and every decrypted
 * value is handed to the redactor before anything is returned.
 */
import { userError } from "../core/errors.js";
import { parseCredentialRef as parseRepoCredentialRef } from "../repo/credential-ref.js";
import type { AgeIdentity } from "./identities.js";
import type { Redactor } from "./redactor.js";
import type { encryptionPredicate, SopsDocument, SopsFormat } from "./sops-file.js";
import { SopsMap, displayText, type SopsNode } from "./sops-tree.js";

export type RepoFileReader = (repoRelativePath: string) => Promise<Uint8Array | undefined>;

const CANDIDATES: Array<[string, SopsFormat]> = [
  [".sops.yaml", "yaml"],
  [".sops.json", "json"],
];

export interface ParsedReference {
  /** File name under credentials/ without `.sops.yaml` (may hold `/`: `team/prod`). */
  name: string;
  keyPath: string[];
}

/**
 * `prod/ssh.private_key` -> {name: "prod", keyPath: ["ssh", "private_key"]};
 * `team/prod/db` -> {name: "team/prod", keyPath: ["db"]}. Same syntax as
 * validation (repo/credential-ref.ts); names cannot climb out of credentials/.
 */
export function parseCredentialRef(ref: string): ParsedReference {
  const parsed = parseRepoCredentialRef(ref);
  const segmentsOk = parsed?.file
    .split("/")
    .every((seg) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(seg) && !seg.includes(".."));
  const keyOk = parsed !== undefined && !parsed.keyPath.split(".").some((k) => k === "");
  if (!parsed || !segmentsOk || !keyOk) {
    throw userError("secrets.bad-reference", `"${ref}" is not a credential reference`, {
      hint: "write FILE/KEY.PATH, e.g. prod/ssh.private_key for the key ssh.private_key in credentials/prod.sops.yaml",
    });
  }
  return { name: parsed.file, keyPath: parsed.keyPath.split(".") };
}

function plainValue(node: SopsNode): unknown {
  if (node === null) return null;
  if (Array.isArray(node)) return node.map(plainValue);
  if (node instanceof SopsMap) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of node.entries) out[k] = plainValue(v);
    return out;
  }
  return displayText(node);
}

/** Finds a key path in a map; keys may themselves contain dots, so longer keys are tried first. */
function lookup(node: SopsNode, path: string[]): SopsNode | undefined {
  if (path.length === 0) return node;
  // A list adds no path component (as in sops and in validation): look inside its items.
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = lookup(item, path);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!(node instanceof SopsMap)) return undefined;
  for (let take = path.length; take >= 1; take--) {
    const key = path.slice(0, take).join(".");
    if (node.has(key)) {
      const found = lookup(node.get(key) ?? null, path.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export class CredentialStore {
  private readonly files = new Map<string, Promise<{ doc: SopsDocument; path: string }>>();

  private identityList: Promise<readonly AgeIdentity[]> | undefined;

  /**
   * `identities` may be a function: it is called once, when the first file is
   * opened, so a run that needs no credential never reads a key.
   */
  constructor(
    private readonly readFile: RepoFileReader,
    private readonly identities: readonly AgeIdentity[] | (() => Promise<readonly AgeIdentity[]>),
    private readonly redactor: Redactor,
  ) {}

  /** A store over a repository's files, with identities from the environment the way sops finds them. */
  static forFiles(
    files: ReadonlyMap<string, Uint8Array>,
    redactor: Redactor,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    return new CredentialStore(
      async (path) => files.get(path),
      // The age and SOPS code is loaded with the first credential: a job without any never pays for it.
      async () => (await (await import("./identities.js")).loadIdentities(env)).identities,
      redactor,
    );
  }

  /**
   * Starts loading the SOPS and age code for a run that will open a credential,
   * while it waits for something else (its target locks). No key is read and
   * nothing is decrypted before first use.
   */
  preload(): void {
    void import("./identities.js").catch(() => undefined);
    void import("./sops-file.js").catch(() => undefined);
  }

  private loadedIdentities(): Promise<readonly AgeIdentity[]> {
    const ids = this.identities;
    this.identityList ??= typeof ids === "function" ? ids() : Promise.resolve(ids);
    return this.identityList;
  }

  async get(ref: string): Promise<string | Record<string, unknown>> {
    const { name, keyPath } = parseCredentialRef(ref);
    const { doc, path } = await this.open(name);
    let found: SopsNode | undefined;
    for (const branch of doc.branches) {
      found = lookup(branch, keyPath);
      if (found !== undefined) break;
    }
    if (found === undefined || found === null) {
      throw userError("secrets.key-missing", `${path} has no key "${keyPath.join(".")}" (reference ${ref})`, {
        hint: `add it with \`opsc secrets set ${path} ${keyPath.join(".")}\` (value on stdin), or fix the reference`,
      });
    }
    if (found instanceof SopsMap) return plainValue(found) as Record<string, unknown>;
    if (Array.isArray(found)) return { ...(plainValue(found) as unknown[]) } as Record<string, unknown>;
    return displayText(found);
  }

  private open(name: string): Promise<{ doc: SopsDocument; path: string }> {
    let p = this.files.get(name);
    if (!p) {
      p = this.load(name);
      this.files.set(name, p);
    }
    return p;
  }

  private async load(name: string): Promise<{ doc: SopsDocument; path: string }> {
    for (const [suffix, format] of CANDIDATES) {
      const path = `credentials/${name}${suffix}`;
      const bytes = await this.readFile(path);
      if (bytes === undefined) continue;
      const { decryptSops, encryptionPredicate } = await import("./sops-file.js");
      const doc = await decryptSops(
        Buffer.from(bytes).toString("utf8"),
        format,
        await this.loadedIdentities(),
        {
          file: path,
        },
      );
      this.register(doc, encryptionPredicate);
      return { doc, path };
    }
    throw userError(
      "secrets.file-missing",
      `no credentials file for "${name}": credentials/${name}.sops.yaml does not exist`,
      {
        hint: `create it with \`opsc secrets set credentials/${name}.sops.yaml KEY\` (value on stdin), or fix the reference`,
      },
    );
  }

  /** Every value that was encrypted is a secret, wherever it is later printed. */
  private register(doc: SopsDocument, predicate: typeof encryptionPredicate): void {
    const encrypted = predicate(doc.metadata.rule);
    const visit = (node: SopsNode, path: string[]) => {
      if (node === null) return;
      if (Array.isArray(node)) node.forEach((n) => visit(n, path));
      else if (node instanceof SopsMap) for (const [k, v] of node.entries) visit(v, [...path, k]);
      else if (encrypted(path)) this.redactor.add(displayText(node));
    };
    for (const b of doc.branches) visit(b, []);
  }
}
