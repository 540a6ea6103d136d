/**
 * Which packages each command loads: start-up time is mostly module loading,
 * so `--version` and `--help` must load nothing but the option parser, and
 * `validate` nothing that speaks SSH, HTTP, Git or crypto. A guard that needs
 * no timing: it runs the built CLI with module hooks that list every module
 * the process resolves.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, PROJECT_ROOT } from "../helpers/opsc-cli.js";

const HOOKS = pathToFileURL(join(PROJECT_ROOT, "runner/test/helpers/module-trace-hooks.mjs")).href;
const work = mkdtempSync(join(tmpdir(), "opsc-startup-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Everything SSH, HTTP, Git, crypto, logging or mail: none of it is needed to start. */
const HEAVY = [
  "ssh2",
  "express",
  "isomorphic-git",
  "age-encryption",
  "@noble/curves",
  "@noble/hashes",
  "@noble/ciphers",
  "@noble/post-quantum",
  "pino",
  "nodemailer",
  "prom-client",
  "@octokit/webhooks",
];

let runs = 0;

/**
 * Which npm packages each file of the bundle holds (written by scripts/build.mjs
 * from esbuild's metafile): bundled packages load as chunks of dist/, not as
 * node_modules paths.
 */
function bundledPackages(): Map<string, string[]> {
  const map = JSON.parse(readFileSync(join(PROJECT_ROOT, "dist/packages.json"), "utf8")) as Record<
    string,
    string[]
  >;
  return new Map(Object.entries(map));
}

/** The npm packages a run of `opsc ARGS` loaded, by name, whether bundled or installed. */
function packagesLoaded(args: string[], cwd = PROJECT_ROOT): Set<string> {
  const out = join(work, `modules-${runs++}.txt`);
  const register = `import { register } from "node:module"; register(${JSON.stringify(HOOKS)}, { data: { out: ${JSON.stringify(out)} } });`;
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      `data:text/javascript,${encodeURIComponent(register)}`,
      join(PROJECT_ROOT, "runner/bin/opsc.js"),
      ...args,
    ],
    { cwd, env: cleanEnv(work), encoding: "utf8", timeout: 30_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  const urls = readFileSync(out, "utf8").split("\n");
  // The hooks really saw the bundle load: an empty list would prove nothing.
  expect(urls.some((u) => u.endsWith("/dist/opsc.js"))).toBe(true);
  const names = urls
    .map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1])
    .filter((n): n is string => n !== undefined);
  const bundled = bundledPackages();
  for (const u of urls) {
    const file = /\/dist\/(.+\.js)$/.exec(u)?.[1];
    if (file === undefined) continue;
    const inside = bundled.get(file);
    // A loaded file the map does not know would hide its packages from this guard.
    expect(inside, `dist/${file} is not in dist/packages.json`).toBeDefined();
    names.push(...inside!);
  }
  return new Set(names);
}

describe("start-up: commands load what they use, when they use it", () => {
  it.each([
    ["--version"],
    ["--help"],
    ["run", "--help"],
    ["secrets", "--help"],
    ["serve", "--help"],
    ["drift", "--help"],
  ])("opsc %s %s loads no package but commander", (...args: string[]) => {
    expect([...packagesLoaded(args)]).toEqual(["commander"]);
  });

  it("opsc validate on a working tree loads no SSH, HTTP, Git or crypto package", () => {
    const loaded = packagesLoaded(["validate", "--repo", "examples/web-fleet"]);
    expect(loaded.has("yaml")).toBe(true);
    expect(HEAVY.filter((p) => loaded.has(p))).toEqual([]);
  });

  it("opsc run of a local job without credentials or notifications loads no SSH, crypto, server or mail package", () => {
    const repo = join(work, "minimal");
    cpSync(join(PROJECT_ROOT, "examples/minimal"), repo, { recursive: true });
    const git = (...a: string[]): void => {
      const r = spawnSync("git", a, { cwd: repo, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    };
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init");
    const loaded = packagesLoaded(["run", "hello", "--no-push"], repo);
    // Recording the run is Git's work; everything else here is not needed by this job.
    expect(loaded.has("isomorphic-git")).toBe(true);
    expect(HEAVY.filter((p) => loaded.has(p) && p !== "isomorphic-git")).toEqual([]);
  });
});

/**
 * The CommonJS modules a process ran while it loaded the repository at `dir`
 * with loadRepo, as paths below node_modules. The source, not the bundle: in
 * the bundle liquidjs and the ajv compiler sit in a chunk every `validate`
 * reads, as code that runs only when called, so which chunks load cannot tell.
 */
function modulesRunByLoadRepo(dir: string): string[] {
  const src = (file: string): string => JSON.stringify(pathToFileURL(join(PROJECT_ROOT, file)).href);
  const script = `
    import { createRequire } from "node:module";
    const { loadRepo } = await import(${src("runner/src/repo/load-repo.ts")});
    const { readRepoDir } = await import(${src("runner/src/repo/read-dir.ts")});
    const { diagnostics } = loadRepo(await readRepoDir(${JSON.stringify(dir)}));
    const modules = Object.keys(createRequire(import.meta.url).cache);
    process.stdout.write(JSON.stringify({ diagnostics, modules }));`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: PROJECT_ROOT,
    env: cleanEnv(work),
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const { diagnostics, modules } = JSON.parse(r.stdout) as { diagnostics: unknown[]; modules: string[] };
  // A repository with mistakes could skip the very checks that need the engines.
  expect(diagnostics).toEqual([]);
  return modules
    .map((m) => /\/node_modules\/(.+)$/.exec(m.split("\\").join("/"))?.[1])
    .filter((m): m is string => m !== undefined);
}

/** Liquid templates and the ajv compiler (users' input schemas), as modules below node_modules. */
const liquid = (m: string): boolean => m.startsWith("liquidjs/");
const ajvCompiler = (m: string): boolean => m === "ajv/dist/2020.js" || m === "ajv/dist/core.js";

describe("start-up: validate loads the template engine and the input schema compiler on use", () => {
  /** examples/minimal without its input schemas, with or without a template and an input. */
  function repo(name: string, withTemplateAndInput: boolean): string {
    const dir = join(work, name);
    mkdirSync(join(dir, "jobs"), { recursive: true });
    mkdirSync(join(dir, "files"), { recursive: true });
    cpSync(join(PROJECT_ROOT, "examples/minimal/opsconductor.yaml"), join(dir, "opsconductor.yaml"));
    cpSync(join(PROJECT_ROOT, "examples/minimal/targets"), join(dir, "targets"), { recursive: true });
    writeFileSync(join(dir, "files/motd"), "welcome to {{ target.name }}\n");
    writeFileSync(
      join(dir, "jobs/hello.yaml"),
      [
        "on:",
        "  manual: true",
        ...(withTemplateAndInput ? ["inputs:", "  who: { type: string, default: world }"] : []),
        "targets:",
        "  names: [local]",
        "steps:",
        "  - id: greet",
        "    run: echo hello",
        ...(withTemplateAndInput
          ? ["  - id: motd", "    copy: { src: files/motd, dest: /tmp/opsc-motd, template: true }"]
          : []),
        "",
      ].join("\n"),
    );
    return dir;
  }

  it("a repository without templates or input schemas runs neither liquidjs nor the ajv compiler", () => {
    const modules = modulesRunByLoadRepo(repo("plain", false));
    // The precompiled schema validators did run: the list is not empty by accident.
    expect(modules).toContain("ajv/dist/runtime/equal.js");
    expect(modules.filter(liquid)).toEqual([]);
    expect(modules.filter(ajvCompiler)).toEqual([]);
  });

  it("a template and an input schema load both, to check them", () => {
    const modules = modulesRunByLoadRepo(repo("templated", true));
    expect(modules.filter(liquid)).not.toEqual([]);
    expect(modules.filter(ajvCompiler).sort()).toEqual(["ajv/dist/2020.js", "ajv/dist/core.js"]);
  });
});
