/**
 * The JSON store: ordered parse with integers as bigint, and Go `json.Indent`
 * style output (TAB indent, trailing newline) as sops writes it.
 *
 * JSON is parsed by eemeli/yaml (JSON is YAML 1.2) with the failsafe schema,
 * which keeps key order and number text; anything that is YAML but not JSON is
 * refused here.
 */
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { userError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import { SopsFloat, SopsMap, SopsTime, fitsInt64, goFormatFloat, type SopsNode } from "./sops-tree.js";

const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

export function parseJsonBranch(text: string, file = "<input>"): SopsMap {
  const { docs, lines: lineCounter, problem } = parseYaml(text, { schema: "failsafe", uniqueKeys: true });
  if (problem) throw yamlProblemError(problem, file, lineCounter);
  const doc = docs[0]!;
  const fail = (offset: number, message: string): never => {
    const p = lineCounter.linePos(offset);
    throw userError("secrets.bad-json", message, {
      position: { file, line: p.line, col: p.col },
      hint: "fix the JSON at that position",
    });
  };
  const first = doc.errors[0];
  if (first) fail(first.pos[0], `not valid JSON: ${first.message.split("\n")[0] ?? ""}`);
  const convert = (node: Node | null, depth: number): SopsNode => {
    const offset = node?.range?.[0] ?? 0;
    if (node === null) return fail(offset, "not valid JSON: missing value");
    if (depth > 200) fail(offset, "the JSON nests too deeply");
    if (isScalar(node)) {
      const text = String(node.value);
      if (node.tag !== undefined) fail(offset, "not valid JSON: tags are YAML");
      if (node.type === "QUOTE_DOUBLE") return text;
      if (node.type !== "PLAIN") fail(offset, "not valid JSON: strings need double quotes");
      if (text === "null") return null;
      if (text === "true") return true;
      if (text === "false") return false;
      if (!JSON_NUMBER.test(text)) fail(offset, `not valid JSON: unexpected "${text.slice(0, 20)}"`);
      // sops >= 3.13.2 reads integers within int64 as int; everything else is float64.
      if (/^-?[0-9]+$/.test(text) && fitsInt64(BigInt(text))) return BigInt(text);
      return new SopsFloat(Number(text));
    }
    if (isSeq(node)) {
      if (!node.flow) fail(offset, "not valid JSON: use [ ] for arrays");
      return node.items.map((i) => convert(i as Node | null, depth + 1));
    }
    if (isMap(node)) {
      if (!node.flow) fail(offset, "not valid JSON: use { } for objects");
      const out = new SopsMap();
      for (const pair of node.items) {
        const k = pair.key as Node | null;
        if (!k || !isScalar(k) || k.type !== "QUOTE_DOUBLE")
          fail(k?.range?.[0] ?? offset, "not valid JSON: keys must be double-quoted strings");
        out.entries.push([
          String((k as { value: unknown }).value),
          convert(pair.value as Node | null, depth + 1),
        ]);
      }
      return out;
    }
    return fail(offset, "not valid JSON");
  };
  const top = convert(doc.contents as Node | null, 0);
  if (!(top instanceof SopsMap))
    fail(doc.contents?.range?.[0] ?? 0, "the top level of a SOPS JSON file must be an object");
  return top as SopsMap;
}

function jsonString(s: string): string {
  // U+2028/2029 are valid JSON, but escaping them keeps the file safe to paste anywhere.
  return JSON.stringify(s)
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function emitNode(v: SopsNode, indent: string, unit: string): string {
  if (v === null) return "null";
  if (typeof v === "string") return jsonString(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v instanceof SopsFloat) {
    if (!Number.isFinite(v.value)) {
      throw userError("secrets.unsupported", `JSON cannot hold the number ${goFormatFloat(v.value)}`, {
        hint: "store it as a string",
      });
    }
    return String(v.value);
  }
  if (v instanceof SopsTime) return jsonString(v.text);
  const inner = indent + unit;
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[\n${v.map((i) => inner + emitNode(i, inner, unit)).join(",\n")}\n${indent}]`;
  }
  if (v.entries.length === 0) return "{}";
  return `{\n${v.entries.map(([k, val]) => `${inner}${jsonString(k)}: ${emitNode(val, inner, unit)}`).join(",\n")}\n${indent}}`;
}

/** Go `json.Indent` with a TAB (sops's default) and a trailing newline. */
export function emitJson(branch: SopsMap, indentUnit = "\t"): string {
  return emitNode(branch, "", indentUnit) + "\n";
}
