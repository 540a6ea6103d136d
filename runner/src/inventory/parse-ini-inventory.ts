/**
 * Ansible's INI inventory format, as its documentation describes it
 * (docs.ansible.com, "How to build your inventory"): hosts before any section
 * are ungrouped; `[group]` lists hosts with inline `key=value` vars,
 * `[group:vars]` sets group vars, `[group:children]` nests groups; `host:port`
 * and `[01:50]` ranges are allowed. Values are read as ansible-core 2.14's INI
 * plugin reads them (not as its documentation says): a host line is split like
 * shlex (quotes removed), then every value, host or group, goes through Python's
 * ast.literal_eval, and stays the text as written when it is not a literal.
 */
import { errorText } from "../core/error-text.js";
import { userError } from "../core/errors.js";
import { pythonLiteral } from "./python-literal.js";
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
      // Not shlex-split: quotes stay, so literal_eval reads `"80"` as the text 80.
      groupOf(inv, section.group).vars[key] = literal(line.slice(eq + 1).trim());
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
      // shlex already removed the quotes: `qn="80"` is 80, as in Ansible.
      vars[t.text.slice(0, eq)] = literal(t.text.slice(eq + 1));
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

/** Python's literal_eval of the value; the text itself when it is not a literal. */
function literal(s: string): unknown {
  const parsed = pythonLiteral(s);
  return parsed ? parsed.value : s;
}
