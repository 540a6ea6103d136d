// Bundles the CLI into dist/ so `opsc` starts fast without a TypeScript loader.
// Dependencies stay external: they are installed by npm next to the package.
import { build } from "esbuild";

await build({
  entryPoints: { opsc: "runner/src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
