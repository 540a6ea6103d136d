/**
 * The YAML store: text <-> ordered SOPS trees, typed the way go-yaml v3 types
 * plain scalars (sops reads YAML with it, and those types enter the MAC).
 *
 * eemeli/yaml parses with the failsafe schema so that every scalar keeps its
 * source text and style; `resolvePlainScalar` then applies the yaml.v3 rules
 * (notes/sops-format.md §2.9). Comments are not carried: sops would encrypt
 * them, we drop them rather than keep anything in clear.
 */
import {
  Alias,
  Document,
  Pair,
  Scalar,
  YAMLMap,
  YAMLSeq,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
} from "yaml";
import { errorText } from "../core/error-text.js";
import { userError, type OpscError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import {
  SopsFloat,
  SopsMap,
  SopsTime,
  fitsInt64,
  goParseFloat,
  parseYamlTimestamp,
  type SopsLeaf,
  type SopsNode,
} from "./sops-tree.js";

const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** Go `strconv.ParseInt(s, 0, 64)` (underscores already removed). */
function goParseIntBase0(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign = "", body = ""] = m;
  let v: bigint;
  if (/^0[oO]/.test(body)) v = BigInt("0o" + body.slice(2));
  else if (/^0[0-7]+$/.test(body)) v = BigInt("0o" + body.slice(1));
  else v = BigInt(body.toLowerCase());
  if (sign === "-") v = -v;
  return fitsInt64(v) ? v : undefined;
}

/** Go `ParseUint(s, 0, 64)` would succeed: the int64 overflow that go-yaml turns into uint64. */
function isUint64(s: string): boolean {
  if (!/^(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.test(s)) return false;
  const body = /^0[0-7]+$/.test(s)
    ? "0o" + s.slice(1)
    : s.replace(/^0O/, "0o").replace(/^0X/, "0x").replace(/^0B/, "0b");
  return BigInt(body) < 2n ** 64n;
}

/** The value go-yaml v3 gives an untagged plain scalar (`resolve.go`). */
export function resolvePlainScalar(s: string): SopsNode {
  switch (s) {
    case "":
    case "~":
    case "null":
    case "Null":
    case "NULL":
      return null;
    case "true":
    case "True":
    case "TRUE":
      return true;
    case "false":
    case "False":
    case "FALSE":
      return false;
    case ".inf":
    case ".Inf":
    case ".INF":
    case "+.inf":
    case "+.Inf":
    case "+.INF":
      return new SopsFloat(Infinity);
    case "-.inf":
    case "-.Inf":
    case "-.INF":
      return new SopsFloat(-Infinity);
    case ".nan":
    case ".NaN":
    case ".NAN":
      return new SopsFloat(NaN);
  }
  if (!/^[-+.0-9]/.test(s)) return s;
  const t = parseYamlTimestamp(s);
  if (t) return t;
  const plain = s.replaceAll("_", "");
  const i = goParseIntBase0(plain);
  if (i !== undefined) return i;
  const unsigned = plain.startsWith("+") ? plain.slice(1) : plain;
  if (goParseIntBase0(unsigned) === undefined && isUint64(unsigned)) {
    // Fits uint64 but not int64: go-yaml yields uint64, which sops cannot walk.
    throw userError("secrets.unsupported", `the number ${s} does not fit a signed 64-bit integer`, {
      hint: "quote it to keep it as a string",
    });
  }
  if (YAML_FLOAT.test(plain)) {
    const f = goParseFloat(plain);
    if (f !== undefined) return new SopsFloat(f);
  }
  return s;
}

function scalarValue(node: Scalar, err: (msg: string, hint: string) => OpscError): SopsNode {
  const text = String(node.value);
  const tag = node.tag;
  if (tag === undefined || tag === "!") {
    if (node.type !== "PLAIN" || tag !== undefined) return text;
    try {
      return resolvePlainScalar(text);
    } catch (e) {
      throw err(errorText(e), "quote it to keep it as a string");
    }
  }
  switch (tag) {
    case "tag:yaml.org,2002:str":
      return text;
    case "tag:yaml.org,2002:null":
      return null;
    case "tag:yaml.org,2002:bool":
    case "tag:yaml.org,2002:int":
    case "tag:yaml.org,2002:float":
    case "tag:yaml.org,2002:timestamp": {
      const v = resolvePlainScalar(text);
      const ok =
        (tag.endsWith(":bool") && typeof v === "boolean") ||
        (tag.endsWith(":int") && typeof v === "bigint") ||
        (tag.endsWith(":float") && (v instanceof SopsFloat || typeof v === "bigint")) ||
        (tag.endsWith(":timestamp") && v instanceof SopsTime);
      if (!ok)
        throw err(
          `"${text}" is not a valid ${tag.slice(tag.lastIndexOf(":") + 1)}`,
          "fix the value or remove the tag",
        );
      if (tag.endsWith(":float") && typeof v === "bigint") return new SopsFloat(Number(v));
      return v;
    }
    default:
      throw err(
        `the YAML tag ${tag} is not supported in a SOPS file`,
        "remove the tag; sops stores plain strings, numbers, booleans and timestamps",
      );
  }
}

/** Parses every document of a YAML file into ordered maps. `file` only labels errors. */
export function parseYamlBranches(text: string, file = "<input>"): SopsMap[] {
  const { docs, lines, problem } = parseYaml(text, { all: true, schema: "failsafe", uniqueKeys: true });
  if (problem) throw yamlProblemError(problem, file, lines);
  const at = (offset: number) => {
    const p = lines.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const branches: SopsMap[] = [];
  for (const doc of docs) {
    const first = doc.errors[0];
    if (first) {
      throw userError("secrets.bad-yaml", `not valid YAML: ${first.message.split("\n")[0] ?? ""}`, {
        position: at(first.pos[0]),
        hint: "fix the YAML syntax at that position",
      });
    }
    const contents = doc.contents;
    if (contents === null) continue;
    const convert = (node: Node | null, depth: number): SopsNode => {
      const err = (msg: string, hint: string) =>
        userError("secrets.bad-yaml", msg, { position: at(node?.range?.[0] ?? 0), hint });
      if (node === null) return null;
      if (depth > 200) throw err("the YAML nests too deeply", "flatten the structure");
      if (isAlias(node)) return convert((node as Alias).resolve(doc) ?? null, depth + 1);
      if (isScalar(node)) return scalarValue(node, err);
      if (isSeq(node)) return node.items.map((item) => convert(item as Node | null, depth + 1));
      if (isMap(node)) {
        const out = new SopsMap();
        for (const pair of node.items) {
          const keyNode = pair.key as Node | null;
          const key = keyNode && isScalar(keyNode) ? scalarValue(keyNode, err) : undefined;
          if (typeof key !== "string") {
            throw userError("secrets.bad-yaml", "only string keys are supported in a SOPS file", {
              position: at(keyNode?.range?.[0] ?? node.range?.[0] ?? 0),
              hint: 'quote the key, e.g. "10": value',
            });
          }
          if (key === "<<")
            throw err("YAML merge keys (<<) are not supported in a SOPS file", "write the merged keys out");
          out.entries.push([key, convert(pair.value as Node | null, depth + 1)]);
        }
        return out;
      }
      throw err("unsupported YAML node", "use mappings, lists and scalars");
    };
    const top = convert(contents as Node, 0);
    if (!(top instanceof SopsMap)) {
      throw userError("secrets.bad-yaml", "the top level of a SOPS YAML document must be a mapping", {
        position: at(contents.range?.[0] ?? 0),
        hint: "put the values under keys",
      });
    }
    branches.push(top);
  }
  return branches;
}

// Writing: floats must read back as floats in go-yaml (1.0, not 1), timestamps plain.
const floatTag = {
  identify: (v: unknown) => v instanceof SopsFloat,
  default: true,
  tag: "tag:yaml.org,2002:float",
  resolve: (s: string) => s,
  stringify: (item: { value: unknown }) => {
    const v = (item.value as SopsFloat).value;
    if (Number.isNaN(v)) return ".nan";
    if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
    const s = String(v);
    return /[.e]/.test(s) ? s : s + ".0";
  },
};
const timeTag = {
  identify: (v: unknown) => v instanceof SopsTime,
  default: true,
  tag: "tag:yaml.org,2002:timestamp",
  resolve: (s: string) => s,
  stringify: (item: { value: unknown }) => (item.value as SopsTime).text,
};

export interface YamlWriteOptions {
  indent?: number;
  /** Strings always double-quoted: unencrypted values in an encrypted file (checklist §2.11.7). */
  quoteStrings?: Set<string>;
  /** Values (by identity) written as `|` blocks: the age `enc` armor. */
  blockStrings?: Set<string>;
}

function needsQuotes(s: string): boolean {
  let resolved: SopsNode;
  try {
    resolved = resolvePlainScalar(s);
  } catch {
    return true;
  }
  return resolved !== s;
}

function keyScalar(k: string): Scalar {
  const s = new Scalar(k);
  if (needsQuotes(k)) s.type = Scalar.QUOTE_DOUBLE;
  return s;
}

function toYamlNode(v: SopsNode, opts: YamlWriteOptions): unknown {
  if (v instanceof SopsMap) {
    const m = new YAMLMap();
    for (const [k, val] of v.entries) m.items.push(new Pair(keyScalar(k), toYamlNode(val, opts)));
    return m;
  }
  if (Array.isArray(v)) {
    const s = new YAMLSeq();
    for (const item of v) s.items.push(toYamlNode(item, opts));
    return s;
  }
  const s = new Scalar(v as SopsLeaf | null);
  if (typeof v === "string") {
    if (opts.blockStrings?.has(v)) s.type = Scalar.BLOCK_LITERAL;
    else if (opts.quoteStrings?.has(v) || needsQuotes(v)) s.type = Scalar.QUOTE_DOUBLE;
  }
  return s;
}

/** Writes documents; sops separates them with `---`. */
export function emitYaml(branches: SopsMap[], opts: YamlWriteOptions = {}): string {
  return branches
    .map((b) => {
      const doc = new Document(undefined, { customTags: (tags) => [floatTag, timeTag, ...tags] });
      doc.contents = toYamlNode(b, opts) as YAMLMap;
      return doc.toString({ indent: opts.indent ?? 4, lineWidth: 0, indentSeq: true });
    })
    .join("---\n");
}
