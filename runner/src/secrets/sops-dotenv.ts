/**
 * The dotenv store, as deliberately simple as sops's (`stores/dotenv/store.go`):
 * split on `\n`, skip empty lines, `#` lines are comments, the key is everything
 * before the first `=`, no trimming, no quotes, `\n` escapes in values. The
 * metadata is flattened into `sops_*` keys (`stores/flatten.go`).
 */
import { userError } from "../core/errors.js";
import { SopsMap, displayText, type SopsNode } from "./sops-tree.js";

const PREFIX = "sops_";

export function parseDotenvBranch(text: string, file = "<input>"): SopsMap {
  const out = new SopsMap();
  const flat: Array<[string, string]> = [];
  text.split("\n").forEach((line, i) => {
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) {
      throw userError("secrets.bad-dotenv", "a dotenv line needs KEY=VALUE", {
        position: { file, line: i + 1, col: 1 },
        hint: "add the = sign or remove the line",
      });
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replaceAll("\\n", "\n");
    if (key.startsWith(PREFIX)) flat.push([key.slice(PREFIX.length), value]);
    else out.entries.push([key, value]);
  });
  if (flat.length > 0) out.entries.push(["sops", unflatten(flat)]);
  return out;
}

/** `age__list_0__map_enc` -> {age: [{enc}]}. */
function unflatten(flat: Array<[string, string]>): SopsMap {
  const root = new SopsMap();
  for (const [key, value] of flat) {
    const parts = key.split(/(__map_|__list_)/);
    let container: SopsMap | SopsNode[] = root;
    let slot: string | number = parts[0] ?? "";
    for (let i = 1; i + 1 < parts.length; i += 2) {
      const isList = parts[i] === "__list_";
      const name = parts[i + 1] ?? "";
      const existing: SopsNode | undefined =
        container instanceof SopsMap ? container.get(slot as string) : container[slot as number];
      let next: SopsMap | SopsNode[];
      if (isList) next = Array.isArray(existing) ? existing : [];
      else next = existing instanceof SopsMap ? existing : new SopsMap();
      if (container instanceof SopsMap) container.set(slot as string, next);
      else container[slot as number] = next;
      container = next;
      slot = isList ? Number(name) : name;
    }
    if (container instanceof SopsMap) container.set(slot as string, value);
    else container[slot as number] = value;
  }
  return root;
}

function flatten(node: SopsNode, prefix: string, out: Array<[string, string]>): void {
  if (node instanceof SopsMap) {
    for (const [k, v] of node.entries) flatten(v, prefix === "" ? k : `${prefix}__map_${k}`, out);
  } else if (Array.isArray(node)) {
    node.forEach((v, i) => flatten(v, `${prefix}__list_${i}`, out));
  } else if (node !== null) {
    out.push([prefix, displayText(node)]);
  }
}

export function emitDotenv(branch: SopsMap): string {
  const lines: string[] = [];
  for (const [k, v] of branch.entries) {
    if (k === "sops") {
      const flat: Array<[string, string]> = [];
      flatten(v, "", flat);
      for (const [fk, fv] of flat) lines.push(`${PREFIX}${fk}=${fv.replaceAll("\n", "\\n")}`);
      continue;
    }
    if (v instanceof SopsMap || Array.isArray(v)) {
      throw userError("secrets.unsupported", `dotenv cannot hold the nested value at "${k}"`, {
        hint: "use a YAML or JSON file",
      });
    }
    lines.push(`${k}=${v === null ? "" : displayText(v).replaceAll("\n", "\\n")}`);
  }
  return lines.map((l) => l + "\n").join("");
}
