// Bundles the CLI into dist/ so `opsc` starts fast without a TypeScript loader.
// Dependencies stay external: they are installed by npm next to the package.
// Split into chunks: each command imports its implementation on use, so
// `opsc --version` or `opsc validate` never load SSH, Git or crypto code.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

// Stale chunks of an earlier build would otherwise pile up beside the new ones.
rmSync("dist/chunks", { recursive: true, force: true });
await build({
  entryPoints: { opsc: "runner/src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});

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
