/**
 * Which packages each command loads: start-up time is mostly module loading,
 * so `--version` and `--help` must load nothing but the option parser, and
 * `validate` nothing that speaks SSH, HTTP, Git or crypto. A guard that needs
 * no timing: it runs the built CLI with module hooks that list every module
 * the process resolves.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
