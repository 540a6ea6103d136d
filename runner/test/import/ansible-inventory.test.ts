import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { parse } from "yaml";
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { register } from "../../src/cli/commands/import.js";
import { isOpscError, type OpscError } from "../../src/core/errors.js";
import type { RepoModel, TargetDef } from "../../src/core/repo-model.js";
import { importAnsibleInventory, detectFormat } from "../../src/inventory/import-inventory.js";
import { withDefaults } from "../../src/inventory/inventory-to-targets.js";
import { loadRepo } from "../../src/repo/load-repo.js";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/** The targets file through the real loader: what `opsc validate` would say about it. */
function load(targetsYaml: string): RepoModel {
  const enc = new TextEncoder();
  const files = new Map([
    ["opsconductor.yaml", enc.encode("name: imported\n")],
    ["targets/imported.yaml", enc.encode(targetsYaml)],
  ]);
  const { model, diagnostics } = loadRepo({ files });
  const errors = diagnostics.filter((d) => d.severity === "error");
  expect(errors, JSON.stringify(errors, null, 2)).toEqual([]);
  return model;
}

function target(model: RepoModel, id: string): TargetDef {
  const t = model.targets.get(id);
  if (!t) throw new Error(`no target ${id}; have ${[...model.targets.keys()].join(", ")}`);
  return t;
}

function thrown(fn: () => unknown): OpscError {
  try {
    fn();
  } catch (e) {
    if (isOpscError(e)) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("INI inventory (Ansible's documented forms)", () => {
  const result = importAnsibleInventory(fixture("docs-inventory.ini"), "docs-inventory.ini");
  const model = load(result.text);

  it("converts every host, expanding ranges and host:port", () => {
    expect([...model.targets.keys()].sort()).toEqual(
      [
        "mail.example.com",
        "badwolf.example.com",
        "jumper",
        "foo.example.com",
        "bar.example.com",
        "www01.example.com",
        "www02.example.com",
        "www03.example.com",
        "one.example.com",
        "two.example.com",
        "three.example.com",
        "db-a.example.com",
        "db-b.example.com",
        "db-c.example.com",
        "host1",
        "host2",
        "host3",
        "localhost",
        "other1.example.com",
        "other2.example.com",
      ].sort(),
    );
    expect(target(model, "badwolf.example.com")).toMatchObject({ host: "badwolf.example.com", port: 5309 });
  });

  it("maps ansible_host, ansible_port and ansible_user to fields, all:vars to defaults", () => {
    expect(target(model, "jumper")).toMatchObject({ host: "192.0.2.50", port: 5555, user: "admin" });
    expect(target(model, "host2").user).toBe("deploy");
    expect(target(model, "other1.example.com").user).toBe("myuser");
    expect(target(model, "mail.example.com")).toMatchObject({
      user: "admin",
      vars: { timezone: "UTC" },
      labels: {},
    });
    expect(parse(result.text).defaults).toEqual({ user: "admin", vars: { timezone: "UTC" } });
  });

  it("turns groups and their parents (children) into group/<name> labels", () => {
    expect(target(model, "host2").labels).toEqual({
      "group/atlanta": "true",
      "group/raleigh": "true",
      "group/southeast": "true",
      "group/usa": "true",
    });
    expect(target(model, "www02.example.com").labels).toEqual({ "group/webservers": "true" });
  });

  it("merges vars as Ansible does: deeper groups over parents, host vars over groups, :vars as literals", () => {
    const host1 = target(model, "host1");
    expect(host1.vars).toEqual({
      timezone: "UTC",
      http_port: 80,
      maxRequestsPerChild: 808,
      // atlanta (depth 2) wins over southeast (depth 1)
      ntp_server: "ntp.atlanta.example.com",
      proxy: "proxy.atlanta.example.com",
      some_server: "foo.southeast.example.com",
      // ansible-core 2.14 reads :vars values with literal_eval too (its docs say text)
      halon_system_timeout: 30,
    });
    expect(target(model, "host3").vars.ntp_server).toBe("ntp.southeast.example.com");
  });

  it("maps connection local and become, and never copies a password", () => {
    expect(target(model, "localhost").transport).toBe("local");
    expect(target(model, "localhost").host).toBeUndefined();
    expect(target(model, "host3").sudo).toMatchObject({ enabled: true, user: "postgres" });
    expect(result.text).not.toContain("p4ss");
    expect(result.converted.notes.join("\n")).toMatch(
      /other2\.example\.com: ansible_password not copied: keep it in credentials/,
    );
  });
});

describe("YAML inventory (Ansible's documented forms)", () => {
  const result = importAnsibleInventory(fixture("docs-inventory.yaml"), "docs-inventory.yaml");
  const model = load(result.text);

  it("reads hosts, nested children and vars", () => {
    expect(model.targets.size).toBe(12);
    expect(target(model, "foo.example.com").labels).toEqual({
      "group/webservers": "true",
      "group/east": "true",
      "group/prod": "true",
    });
    expect(target(model, "three.example.com").labels).toEqual({
      "group/dbservers": "true",
      "group/west": "true",
      "group/test": "true",
    });
    expect(target(model, "jumper")).toMatchObject({ host: "192.0.2.50", port: 5555, user: "admin" });
    expect(target(model, "host2").vars).toMatchObject({
      http_port: 303,
      ntp_server: "ntp.atlanta.example.com",
      halon_system_timeout: 30,
      timezone: "UTC",
    });
    expect(target(model, "www03.example.com").host).toBe("www03.example.com");
  });

  it("gives the same targets as the INI form for the hosts both describe", () => {
    const ini = load(importAnsibleInventory(fixture("docs-inventory.ini"), "inv.ini").text);
    for (const id of ["jumper", "host1", "mail.example.com"]) {
      expect(target(model, id).host).toBe(target(ini, id).host);
      expect(target(model, id).port).toBe(target(ini, id).port);
      expect(target(model, id).user).toBe(target(ini, id).user);
    }
  });
});

describe("`ansible-inventory --list` JSON (what dynamic inventories print)", () => {
  it("reads hosts and children given as lists, and _meta.hostvars", () => {
    const model = load(importAnsibleInventory(fixture("inventory-list.json"), "inventory-list.json").text);
    expect([...model.targets.keys()].sort()).toEqual(["host1", "jumper", "mail.example.com"]);
    expect(target(model, "host1")).toMatchObject({
      host: "host1",
      labels: { "group/atlanta": "true", "group/southeast": "true", "group/usa": "true" },
      vars: {
        http_port: 80,
        maxRequestsPerChild: 808,
        ntp_server: "ntp.atlanta.example.com",
        halon_system_timeout: 30,
      },
    });
    expect(target(model, "jumper")).toMatchObject({ host: "192.0.2.50", port: 5555, labels: {} });
  });
});

describe("merging into an existing targets file", () => {
  const existing = `# Production web tier. Keep sorted.
defaults: { user: deploy, labels: { env: prod } }
targets:
  # the old one, do not touch
  web-1: { host: 10.0.1.11, labels: { role: web } } # pinned later
  mail.example.com: { host: mail.example.com }
`;
  it("keeps comments, styles and entries, adds new hosts, skips known ones", () => {
    const inv = "mail.example.com\n[web]\nweb-1 ansible_host=10.0.9.9\nnew.example.com\n10.0.1.11\n";
    const result = importAnsibleInventory(inv, "hosts", { existing, targetsFile: "targets/web.yaml" });
    expect(result.text.startsWith(existing.split("\n  mail")[0] as string)).toBe(true);
    expect(result.text).toContain("# pinned later");
    expect(result.text).toContain("# the old one, do not touch");
    expect(result.added).toEqual(["new.example.com"]);
    expect(result.skipped).toEqual([
      { id: "mail.example.com", reason: "a target with this id is already in the file" },
      { id: "web-1", reason: "a target with this id is already in the file" },
      { id: "10.0.1.11", reason: "10.0.1.11:22 is already target web-1" },
    ]);
    const model = load(result.text);
    expect(target(model, "web-1").host).toBe("10.0.1.11");
    expect(target(model, "new.example.com")).toMatchObject({
      user: "deploy",
      labels: { env: "prod", "group/web": "true" },
    });
  });
});

describe("bad inventories", () => {
  it("names the line of a broken INI section", () => {
    const e = thrown(() => importAnsibleInventory("[web]\nhost1\n[web:params]\n", "hosts.ini"));
    expect(e.kind).toBe("user");
    expect(e.position).toMatchObject({ file: "hosts.ini", line: 3 });
    expect(e.message).toMatch(/only :vars and :children/);
  });

  it("rejects a host var that is not key=value, and a bad range", () => {
    expect(thrown(() => importAnsibleInventory("[web]\nhost1 port\n", "h.ini")).message).toMatch(
      /"port" after host host1 is not key=value/,
    );
    const e = thrown(() => importAnsibleInventory("[web]\nwww[9:1].example.com\n", "h.ini"));
    expect(e.message).toMatch(/ends before it starts/);
    expect(e.position?.line).toBe(2);
  });

  it("names the place of a YAML group with a stray key", () => {
    const e = thrown(() =>
      importAnsibleInventory("all:\n  children:\n    web:\n      host:\n        a:\n", "inv.yaml"),
    );
    expect(e.message).toMatch(/group web has "host"; a group holds only hosts, children and vars/);
    expect(e.position).toMatchObject({ file: "inv.yaml", line: 4, col: 7 });
  });

  it("reports YAML syntax errors with a position", () => {
    const e = thrown(() => importAnsibleInventory("all:\n  hosts: [a\n", "inv.yml"));
    expect(e.code).toBe("import.inventory-syntax");
    expect(e.position?.file).toBe("inv.yml");
  });

  it("guesses the format like Ansible", () => {
    expect(detectFormat("hosts", "[web]\na\n")).toBe("ini");
    expect(detectFormat("hosts", "# x\nall:\n  hosts:\n")).toBe("yaml");
    expect(detectFormat("inv.yml", "")).toBe("yaml");
  });
});

describe("opsc import ansible-inventory", () => {
  let dir = "";
  afterEach(() => {
    vi.restoreAllMocks();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<string> {
    let out = "";
    const sink = (s: string | Uint8Array) => ((out += String(s)), true);
    vi.spyOn(process.stdout, "write").mockImplementation(sink);
    vi.spyOn(process.stderr, "write").mockImplementation(sink);
    const program = new Command("opsc").exitOverride();
    register(program);
    await program.parseAsync(args, { from: "user" });
    return out;
  }

  it("writes a new targets file that validates, and lists what it left out", async () => {
    dir = mkdtempSync(join(tmpdir(), "opsc-import-"));
    const out = await run(
      "import",
      "ansible-inventory",
      join(FIXTURES, "docs-inventory.ini"),
      "--write",
      join(dir, "t.yaml"),
    );
    expect(out).toMatch(/20 target\(s\) added to .*t\.yaml, 0 skipped/);
    expect(out).toMatch(/note: other2\.example\.com: ansible_password not copied/);
    const text = readFileSync(join(dir, "t.yaml"), "utf8");
    expect(text).toMatch(/^# Imported from the Ansible inventory docs-inventory\.ini/);
    expect(load(text).targets.size).toBe(20);
  });

  it("leaves an existing file alone when nothing is new, and says why", async () => {
    dir = mkdtempSync(join(tmpdir(), "opsc-import-"));
    const file = join(dir, "t.yaml");
    writeFileSync(file, "targets:\n  a: { host: a } # mine\n");
    const out = await run(
      "import",
      "ansible-inventory",
      join(FIXTURES, "docs-inventory.ini"),
      "--write",
      file,
    );
    expect(out).toContain("20 target(s) added");
    const again = await run(
      "import",
      "ansible-inventory",
      join(FIXTURES, "docs-inventory.ini"),
      "--write",
      file,
    );
    expect(again).toContain("0 target(s) added");
    expect(again).toContain("skipped jumper: a target with this id is already in the file");
    expect(readFileSync(file, "utf8")).toContain("a: { host: a } # mine");
  });

  it("fails with a clear message on a missing file", async () => {
    await expect(run("import", "ansible-inventory", "/nonexistent/hosts")).rejects.toThrow(
      /cannot read \/nonexistent\/hosts: ENOENT/,
    );
  });
});

describe("INI values as ansible-core 2.14 reads them (fixture: ini-values.ansible-list.json, its ansible-inventory --list)", () => {
  const expected = JSON.parse(fixture("ini-values.ansible-list.json")) as {
    _meta: { hostvars: Record<string, Record<string, unknown>> };
  };
  const result = importAnsibleInventory(fixture("ini-values.ini"), "ini-values.ini");

  it("gives every host the vars Ansible gives it: quotes removed, Python literals, group priority", () => {
    const doc = parse(result.text) as {
      defaults?: Record<string, unknown>;
      targets: Record<string, Record<string, unknown>>;
    };
    for (const [host, hostvars] of Object.entries(expected._meta.hostvars)) {
      const fields = withDefaults(doc.defaults ?? {}, doc.targets[host] ?? {});
      const want = Object.fromEntries(Object.entries(hostvars).filter(([k]) => !k.startsWith("ansible_")));
      expect(fields.vars ?? {}, host).toEqual(want);
    }
    expect(doc.targets.h1!.vars).toMatchObject({
      qn: 80,
      qb: true,
      hx: 31,
      hu: 1000,
      hl: [1, 2],
      hd: { a: 1 },
    });
    expect(doc.targets.p1!.vars).toEqual({ x: "from-a" }); // priority 10 over 5 over the default 1
    load(result.text);
  });

  it("quotes every text a YAML 1.1 reader would take for something else", () => {
    const r = importAnsibleInventory(
      "all:\n  hosts:\n    h2:\n      a: 'yes'\n      b: 'on'\n      c: '1_000'\n      d: '0x1F'\n      e: '1e3'\n      f: '2001-01-01'\n",
      "x.yaml",
    );
    for (const line of ['a: "yes"', 'b: "on"', 'c: "1_000"', 'd: "0x1F"', 'e: "1e3"', 'f: "2001-01-01"'])
      expect(r.text).toContain(line);
    expect(parse(r.text, { version: "1.1" }).targets.h2.vars).toEqual({
      a: "yes",
      b: "on",
      c: "1_000",
      d: "0x1F",
      e: "1e3",
      f: "2001-01-01",
    });
  });

  const real = spawnSync("ansible-inventory", ["--version"], { encoding: "utf8" });
  it.skipIf(real.status !== 0)("the fixture is what the installed ansible-inventory --list prints", () => {
    const r = spawnSync("ansible-inventory", ["-i", join(FIXTURES, "ini-values.ini"), "--list"], {
      encoding: "utf8",
      env: {
        ...process.env,
        ANSIBLE_LOCAL_TEMP: tmpdir(),
        ANSIBLE_HOME: mkdtempSync(join(tmpdir(), "ans-")),
      },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
  });
});
