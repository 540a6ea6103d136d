/**
 * Ansible's INI inventory format, as its documentation describes it
 * (docs.ansible.com, "How to build your inventory"): hosts before any section
 * are ungrouped; `[group]` lists hosts with inline `key=value` vars (read as
 * Python literals), `[group:vars]` sets group vars (read as strings),
 * `[group:children]` nests groups; `host:port` and `[01:50]` ranges are allowed.
 */
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import {
  addHost,
  emptyInventory,
  expandHostPattern,
  groupOf,
  type AnsibleInventory,
} from "./ansible-inventory.js";

type Section = { kind: "hosts" | "vars" | "children"; group: string };

export function parseIniInventory(text: string, file: string): AnsibleInventory {
  const inv = emptyInventory();
  let section: Section = { kind: "hosts", group: "ungrouped" };
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const lineNo = i + 1;
    const fail = (message: string, hint?: string, col = 1): never => {
      throw userError("import.inventory-syntax", message, {
        position: { file, line: lineNo, col },
        ...(hint ? { hint } : {}),
      });
    };
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      const m = /^\[([^\]:\s]+)(?::([A-Za-z]+))?\]\s*(?:[#;].*)?$/.exec(line);
      if (!m) fail(`"${line}" is not a section header`, "write [group], [group:vars] or [group:children]");
      const [, group = "", suffix] = m as RegExpExecArray;
      if (suffix !== undefined && suffix !== "vars" && suffix !== "children") {
        fail(`section [${group}:${suffix}]: only :vars and :children are known`, undefined, group.length + 3);
      }
      section = { kind: (suffix as "vars" | "children" | undefined) ?? "hosts", group };
      groupOf(inv, group);
      continue;
    }
    const col = raw.indexOf(line) + 1;
    if (section.kind === "children") {
      const child = stripComment(line);
      if (!/^[^\s=]+$/.test(child))
        fail(`"${child}" is not a group name`, "list one child group per line", col);
      if (child === section.group) fail(`group ${child} cannot be its own child`, undefined, col);
      groupOf(inv, section.group).children.add(child);
      groupOf(inv, child);
      continue;
    }
    if (section.kind === "vars") {
      const eq = line.indexOf("=");
      if (eq <= 0) fail(`"${line}" is not a variable: write key=value`, undefined, col);
      const key = line.slice(0, eq).trim();
      // A :vars value is a string, whatever it looks like (Ansible's documentation).
      groupOf(inv, section.group).vars[key] = unquote(line.slice(eq + 1).trim());
      continue;
    }
    let tokens: Token[];
    try {
      tokens = tokenize(line);
    } catch (e) {
      return fail(errorText(e), undefined, col);
    }
    const [first, ...rest] = tokens;
    if (!first) continue;
    const vars: Record<string, unknown> = {};
    for (const t of rest) {
      const eq = t.text.indexOf("=");
      if (eq <= 0) {
        fail(
          `"${t.text}" after host ${first.text} is not key=value`,
          "host vars are written host key=value key2=value2",
          col,
        );
      }
      vars[t.text.slice(0, eq)] = t.quoted ? t.text.slice(eq + 1) : literal(t.text.slice(eq + 1));
    }
    let pattern = first.text;
    // `badwolf.example.com:5309`: a port after the host (IPv6 addresses need brackets in Ansible too).
    const port = /^([^:[\]]+(?:\[[^\]]+\][^:[\]]*)*):(\d+)$/.exec(pattern);
    if (port?.[1] && port[2]) {
      pattern = port[1];
      vars.ansible_port ??= Number(port[2]);
    }
    const hosts = expandHostPattern(pattern);
    if (typeof hosts === "string") fail(`host ${first.text}: ${hosts}`, undefined, col);
    for (const h of hosts as string[]) addHost(inv, section.group, h, vars);
  }
  return inv;
}

interface Token {
  text: string;
  quoted: boolean;
}

/** shlex-style split, as Ansible splits host lines: quotes group, `#` after a space starts a comment. */
function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let cur = "";
  let quoted = false;
  let inToken = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed ${c} in "${line}"`);
      cur += line.slice(i + 1, end);
      quoted = true;
      inToken = true;
      i = end;
    } else if (/\s/.test(c)) {
      if (inToken) out.push({ text: cur, quoted });
      cur = "";
      quoted = false;
      inToken = false;
    } else if (c === "#" && !inToken) {
      break;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push({ text: cur, quoted });
  return out;
}

function stripComment(s: string): string {
  return s.replace(/\s[#;].*$/, "").trim();
}

function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/.exec(s);
  return m ? (m[2] ?? "") : s;
}

/** Inline host vars are Python literals in Ansible: numbers, True/False, None, lists, dicts; else text. */
function literal(s: string): unknown {
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^-?\d+\.\d+$/.test(s)) return Number(s);
  if (s === "True") return true;
  if (s === "False") return false;
  if (s === "None") return null;
  if (/^[[{]/.test(s)) {
    try {
      return JSON.parse(
        s
          .replace(/'/g, '"')
          .replace(/\bTrue\b/g, "true")
          .replace(/\bFalse\b/g, "false"),
      );
    } catch {
      return s;
    }
  }
  return s;
}
