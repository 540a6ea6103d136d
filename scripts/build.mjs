// Bundles the CLI into dist/ so `opsc` starts fast without a TypeScript loader.
// Dependencies stay external: they are installed by npm next to the package.
// Split into chunks: each command imports its implementation on use, so
// `opsc --version` or `opsc validate` never load SSH, Git or crypto code.
import { rmSync } from "node:fs";
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
