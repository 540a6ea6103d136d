// Bundles the CLI into dist/ so `opsc` starts fast without a TypeScript loader.
// Split into chunks: each command imports its implementation on use, so
// `opsc --version` or `opsc validate` never load SSH, Git or crypto code.
//
// Pure-JavaScript dependencies are bundled too: resolving, reading and
// compiling hundreds of small CommonJS files is most of a command's start-up.
// Packages stay external (installed by npm beside the package) where bundling
// would change them: native add-ons (ssh2's crypto, cpu-features), worker
// threads started from file paths (pino), and the server- and mail-only
// packages nothing on the start-up path loads.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const EXTERNAL = [
  "ssh2",
  "cpu-features",
  "*.node",
  "pino",
  "pino-*",
  "thread-stream",
  "express",
  "nodemailer",
  "prom-client",
  "@octokit/*",
  "openid-client",
  "jose",
  // Loaded with require() only when a repository has schedules (runner/src/repo/checks/check-schedules.ts).
  "cron-parser",
  "luxon",
  "node-cron",
  // Loaded with require() only when a repository has a template (runner/src/core/liquid-template.ts):
  // one file of its own, so bundled it only made every `validate` and `run` read it.
  "liquidjs",
];

// Stale chunks of an earlier build would otherwise pile up beside the new ones.
rmSync("dist/chunks", { recursive: true, force: true });
const result = await build({
  entryPoints: { opsc: "runner/src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  target: "node20",
  external: EXTERNAL,
  // Less text for V8 to read on every start; names are kept, so a bug's stack trace still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  // Bundled CommonJS dependencies call require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __opscRequire } from "node:module"; const require = __opscRequire(import.meta.url);',
  },
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});

// Which npm packages each output file holds: a bundled package no longer shows
// up as a node_modules path when it loads, so the start-up guard
// (runner/test/cli/startup-modules.test.ts) maps loaded chunks back to packages.
const packagesOf = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith(".js")) continue;
  const names = new Set();
  for (const input of Object.keys(output.inputs)) {
    for (const m of input.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)) names.add(m[1]);
  }
  packagesOf[file.replace(/^dist\//, "")] = [...names].sort();
}
writeFileSync("dist/packages.json", `${JSON.stringify(packagesOf, null, 2)}\n`);

// The dashboard `opsc serve` serves: runner/web -> dist/web, hashed names, every byte
// from this package (no CDN, no web font), index.html pointing at what was built.
rmSync("dist/web", { recursive: true, force: true });
const web = await build({
  entryPoints: { app: "runner/web/src/main.tsx" },
  outdir: "dist/web/assets",
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  platform: "browser",
  format: "esm",
  target: ["chrome120", "firefox120", "safari16"],
  jsx: "automatic",
  minify: true,
  metafile: true,
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "linked",
  logLevel: "warning",
});
const outputs = Object.keys(web.metafile.outputs).map((f) => f.replace(/^dist\/web\//, ""));
const js = outputs.filter((f) => f.endsWith(".js"));
const css = outputs.filter((f) => f.endsWith(".css"));
const html = readFileSync("runner/web/index.html", "utf8")
  .replace("<!-- styles -->", css.map((f) => `<link rel="stylesheet" href="/${f}" />`).join(""))
  .replace("<!-- scripts -->", js.map((f) => `<script type="module" src="/${f}"></script>`).join(""));
writeFileSync("dist/web/index.html", html);
