/**
 * Adds targets to a targets file through the `yaml` Document API, so every
 * comment, blank line, flow style and existing entry of the file survives.
 * Existing entries are never changed: a new target whose id or address is
 * already there is skipped and reported. Used by `opsc import` and `opsc discover`.
 */
import { Document, isMap, isScalar, parse, Scalar, visit, YAMLMap, type Node } from "yaml";
import { userError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import { withDefaults, type TargetFields } from "./inventory-to-targets.js";

export interface NewTarget {
  id: string;
  fields: TargetFields;
  /** Written as a comment line above the entry (discovery: when and what answered). */
  comment?: string;
}

export interface MergeResult {
  text: string;
  added: string[];
  skipped: Array<{ id: string; reason: string }>;
}

export interface MergeOptions {
  /** Shown in errors. */
  file: string;
  /** Comment at the top of a new file. */
  header?: string;
  /** Defaults for a new file; merged into each new target when the file already exists (it keeps its own). */
  defaults?: TargetFields;
  /** Addresses (`host:port`, host lower case) already used by targets in other files -> their ids. */
  known?: Map<string, string>;
}

export function mergeTargets(
  existing: string | undefined,
  additions: NewTarget[],
  options: MergeOptions,
): MergeResult {
  const fresh = existing === undefined || existing.trim() === "";
  const doc = fresh ? new Document({}) : parseExisting(existing, options.file);
  if (fresh && options.header) doc.commentBefore = options.header;
  const root = doc.contents as YAMLMap;
  if (fresh && options.defaults && Object.keys(options.defaults).length > 0)
    root.set("defaults", quoteAmbiguous(doc.createNode(options.defaults)));

  let targets: unknown = root.get("targets", true);
  if (!isMap(targets)) {
    if (targets !== undefined && !(isScalar(targets) && targets.value === null)) {
      throw userError("targets.merge-shape", `${options.file}: "targets" is not a mapping`, {
        hint: "a targets file holds `targets:` with one entry per target id",
      });
    }
    targets = new YAMLMap();
    root.set("targets", targets);
  }
  const map = targets as YAMLMap;
  const fileDefaults = (root.get("defaults") as YAMLMap | undefined)?.toJSON?.() as TargetFields | undefined;
  const known = new Map<string, string>(options.known ?? []);
  const ids = new Set<string>();
  for (const pair of map.items) {
    const id = String(isScalar(pair.key) ? pair.key.value : pair.key);
    ids.add(id);
    const entry = isMap(pair.value) ? (pair.value.toJSON() as TargetFields) : {};
    const host = entry.host ?? fileDefaults?.host;
    if (typeof host === "string") known.set(address(host, entry.port ?? fileDefaults?.port), id);
  }

  const added: string[] = [];
  const skipped: MergeResult["skipped"] = [];
  for (const t of additions) {
    const fields = !fresh && options.defaults ? withDefaults(options.defaults, t.fields) : t.fields;
    if (ids.has(t.id)) {
      skipped.push({ id: t.id, reason: "a target with this id is already in the file" });
      continue;
    }
    const host = fields.host ?? fileDefaults?.host;
    const addr = typeof host === "string" ? address(host, fields.port ?? fileDefaults?.port) : undefined;
    const same = addr ? known.get(addr) : undefined;
    if (same) {
      skipped.push({ id: t.id, reason: `${addr} is already target ${same}` });
      continue;
    }
    const pair = doc.createPair(t.id, fields);
    quoteAmbiguous(pair.value as Node);
    if (t.comment) (pair.key as Scalar).commentBefore = ` ${t.comment}`;
    map.add(pair);
    ids.add(t.id);
    if (addr) known.set(addr, t.id);
    added.push(t.id);
  }
  return { text: doc.toString({ lineWidth: 0 }), added, skipped };
}

/**
 * Quotes every text value a YAML 1.1 reader (PyYAML, Ansible, older tools) would
 * read as something else: `yes`, `on`, `1_000`, `0x1F`, `1e3` are plain text in
 * YAML 1.2 but a boolean or a number in 1.1.
 */
function quoteAmbiguous<T extends Node>(node: T): T {
  visit(node, {
    Scalar(_key, scalar) {
      if (typeof scalar.value !== "string" || scalar.type !== undefined) return;
      let asYaml11: unknown;
      try {
        asYaml11 = parse(scalar.value, { version: "1.1" });
      } catch {
        return; // not a value on its own: the stringifier quotes what it must
      }
      if (asYaml11 !== scalar.value) scalar.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return node;
}

export function address(host: string, port: unknown): string {
  return `${host.toLowerCase()}:${typeof port === "number" ? port : 22}`;
}

function parseExisting(text: string, file: string): Document {
  const { docs, lines: lineCounter, problem } = parseYaml(text, { keepSourceTokens: false });
  if (problem) throw yamlProblemError(problem, file, lineCounter);
  const doc = docs[0]!;
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    throw userError("targets.merge-syntax", `${file} is not valid YAML: ${err.message.split("\n")[0]}`, {
      position: { file, line: pos.line, col: pos.col },
      hint: "fix the file (opsc validate shows where), then run again; nothing was written",
    });
  }
  if (doc.contents === null) (doc as Document).contents = new YAMLMap();
  if (!isMap(doc.contents)) {
    throw userError("targets.merge-shape", `${file} is not a targets file (its top level is not a mapping)`, {
      hint: "give a file under targets/ that holds `targets:`, or a new file name",
    });
  }
  return doc;
}
