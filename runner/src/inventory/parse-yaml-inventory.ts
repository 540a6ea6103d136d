/**
 * Ansible's YAML inventory format: top-level groups (usually `all`), each with
 * optional `hosts` (name -> vars or nothing), `children` (name -> group) and
 * `vars`. A group may appear in several places; its contents are merged.
 */
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { userError } from "../core/errors.js";
import { parseYaml, yamlProblemError } from "../core/parse-yaml.js";
import {
  addHost,
  emptyInventory,
  expandHostPattern,
  groupOf,
  type AnsibleInventory,
} from "./ansible-inventory.js";

const GROUP_KEYS = new Set(["hosts", "children", "vars"]);

export function parseYamlInventory(text: string, file: string): AnsibleInventory {
  const { docs, lines: lineCounter, problem } = parseYaml(text, { uniqueKeys: true });
  if (problem) throw yamlProblemError(problem, file, lineCounter);
  const doc = docs[0]!;
  const at = (node: Node | null | undefined | { range?: unknown }) => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    const pos = lineCounter.linePos(range?.[0] ?? 0);
    return { file, line: pos.line, col: pos.col };
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const pos = lineCounter.linePos(firstError.pos[0]);
    throw userError("import.inventory-syntax", `not valid YAML: ${firstError.message.split("\n")[0]}`, {
      position: { file, line: pos.line, col: pos.col },
    });
  }
  const inv = emptyInventory();
  if (doc.contents === null) return inv;
  if (!isMap(doc.contents)) {
    throw userError(
      "import.inventory-shape",
      "a YAML inventory is a mapping of groups (usually starting with `all:`)",
      {
        position: at(doc.contents),
      },
    );
  }

  /** `_meta.hostvars` of the `--list` JSON form: host name -> vars. */
  const readMeta = (node: unknown): void => {
    const hostvars = isMap(node) ? node.get("hostvars", true) : undefined;
    if (!isMap(hostvars)) return;
    for (const h of hostvars.items) {
      const vars = isMap(h.value) ? (h.value.toJSON() as Record<string, unknown>) : {};
      const host = String(isScalar(h.key) ? h.key.value : h.key);
      inv.hosts.set(host, { ...(inv.hosts.get(host) ?? {}), ...vars });
    }
  };

  const readGroup = (name: string, node: unknown): void => {
    const group = groupOf(inv, name);
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      throw userError(
        "import.inventory-shape",
        `group ${name} must be a mapping with hosts, children and/or vars`,
        {
          position: at(node as Node),
        },
      );
    }
    for (const pair of node.items) {
      const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
      const value = pair.value as Node | null;
      if (!GROUP_KEYS.has(key)) {
        throw userError(
          "import.inventory-shape",
          `group ${name} has "${key}"; a group holds only hosts, children and vars`,
          {
            position: at(pair.key as Node),
            hint: "hosts go under `hosts:`, sub-groups under `children:`",
          },
        );
      }
      if (value === null || (value as { value?: unknown }).value === null) continue;
      // `ansible-inventory --list` (and dynamic inventory scripts) list hosts and children by name.
      if (isSeq(value) && key !== "vars") {
        for (const item of value.items) {
          const itemName = String(isScalar(item) ? item.value : item);
          if (key === "hosts") addHost(inv, name, itemName, {});
          else if (itemName !== name) {
            group.children.add(itemName);
            groupOf(inv, itemName);
          }
        }
        continue;
      }
      if (!isMap(value)) {
        throw userError("import.inventory-shape", `${name}.${key} must be a mapping`, {
          position: at(value),
        });
      }
      if (key === "vars") {
        Object.assign(group.vars, value.toJSON() as Record<string, unknown>);
      } else if (key === "hosts") {
        for (const h of value.items) {
          const hostName = String((h.key as { value?: unknown })?.value ?? h.key);
          const hv =
            h.value === null || (isScalar(h.value) && h.value.value === null)
              ? null
              : (h.value as Node).toJSON();
          if (hv !== null && (typeof hv !== "object" || Array.isArray(hv))) {
            throw userError("import.inventory-shape", `host ${hostName}: its vars must be a mapping`, {
              position: at(h.value as Node),
            });
          }
          const hosts = expandHostPattern(hostName);
          if (typeof hosts === "string") {
            throw userError("import.inventory-syntax", `host ${hostName}: ${hosts}`, {
              position: at(h.key as Node),
            });
          }
          for (const host of hosts) addHost(inv, name, host, (hv ?? {}) as Record<string, unknown>);
        }
      } else {
        for (const c of value.items) {
          const child = String((c.key as { value?: unknown })?.value ?? c.key);
          if (child === name) {
            throw userError("import.inventory-shape", `group ${child} cannot be its own child`, {
              position: at(c.key as Node),
            });
          }
          group.children.add(child);
          readGroup(child, c.value);
        }
      }
    }
  };

  for (const pair of doc.contents.items) {
    if (isScalar(pair.key) && pair.key.value === "_meta") {
      readMeta(pair.value);
      continue;
    }
    readGroup(String((pair.key as { value?: unknown })?.value ?? pair.key), pair.value);
  }
  return inv;
}
