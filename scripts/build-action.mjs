// Bundles the GitHub Action into action/dist/index.js with every dependency
// inside: GitHub's runner starts it with node and installs nothing. The bundle
// is committed; CI rebuilds it and fails when it differs (see docs/github-action.md).
import { build } from "esbuild";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

// `--outdir DIR` builds elsewhere (the staleness test compares that with the committed bundle).
const at = process.argv.indexOf("--outdir");
const outdir = at > 0 ? process.argv[at + 1] : "action/dist";

await build({
  entryPoints: ["action/src/main.ts"],
  outfile: join(outdir, "index.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  // node24 runs it; the code stays Node 20-compatible.
  target: "node20",
  // ssh2's optional native add-ons: it falls back to pure JavaScript without them.
  external: ["*.node", "cpu-features"],
  // Bundled CommonJS dependencies call require() for Node's own modules and read __dirname.
  banner: {
    js: [
      'import { createRequire as __opscRequire } from "node:module";',
      'import { fileURLToPath as __opscPath } from "node:url";',
      "const require = __opscRequire(import.meta.url);",
      "const __filename = __opscPath(import.meta.url);",
      'const __dirname = __opscPath(new URL(".", import.meta.url));',
    ].join(" "),
  },
  legalComments: "none",
  // A stable bundle: no source maps or absolute paths that differ between machines.
  sourcemap: false,
  logLevel: "warning",
});
// The bundle is an ES module wherever the action is checked out.
writeFileSync(join(outdir, "package.json"), '{ "type": "module" }\n');
