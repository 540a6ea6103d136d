/** `opsc init [DIR]`: a new automation repository that validates clean. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { hasErrors } from "../../core/diagnostic.js";
import { userError } from "../../core/errors.js";
import { EXIT } from "../../core/exit-codes.js";
import { formatDiagnostics } from "../../repo/format-diagnostics.js";
import { findRepoRoot } from "../../app/workspace.js";

export function register(program: Command): void {
  program
    .command("init")
    .description(
      "Create a new automation repository (git init, settings, a local target, a step, a job, editor schemas)",
    )
    .argument("[dir]", "folder to create it in", ".")
    .option("--name <name>", "display name (default: the folder's name)")
    .option(
      "--with-library",
      "also copy the standard step library (apt, dnf, service, user, ...) into steps/",
    )
    .option(
      "--update-schemas",
      "only refresh the editor schemas and .vscode/settings.json of an existing repository",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ opsc init my-automation         # then: cd my-automation && opsc validate
  $ opsc init                       # in the current (empty or new) folder
  $ opsc init --update-schemas      # after upgrading opsc: fresh schemas for editor completion
  $ opsc init infra --with-library  # with steps/apt/install.yaml, steps/user.yaml, ... (docs/standard-library.md)

It refuses a folder that already holds opsconductor.yaml, and never overwrites a file.`,
    )
    .action(async (dir: string, opts: { name?: string; updateSchemas?: boolean; withLibrary?: boolean }) => {
      if (opts.updateSchemas) {
        await updateSchemas(findRepoRoot(dir === "." ? undefined : dir));
        return;
      }
      const root = resolve(dir);
      if (existsSync(join(root, "opsconductor.yaml"))) {
        throw userError(
          "init.exists",
          `${dir} already holds an automation repository (opsconductor.yaml exists)`,
          {
            hint: "use it as it is, or choose another folder; `opsc init --update-schemas` refreshes only the editor schemas",
          },
        );
      }
      // Loaded on use, so `opsc --help` and `--version` stay quick.
      const [{ initFiles }, { loadRepo }, { readRepoDir }, { ensureGitRepository }] = await Promise.all([
        import("../../repo/init-files.js"),
        import("../../repo/load-repo.js"),
        import("../../repo/read-dir.js"),
        import("../../app/workspace.js"),
      ]);
      const files = initFiles(opts.name ?? basename(root));
      if (opts.withLibrary) for (const [path, content] of standardLibrary()) files.set(path, content);
      const clashes = [...files.keys()].filter((p) => existsSync(join(root, p)));
      if (clashes.length > 0) {
        throw userError("init.would-overwrite", `${dir} already has ${clashes.join(", ")}`, {
          hint: "opsc init never overwrites files; move them away or choose another folder",
        });
      }
      for (const [path, content] of files) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), content, { flag: "wx" });
      }
      await ensureGitRepository(root);
      const { diagnostics, sources } = loadRepo(await readRepoDir(root));
      if (hasErrors(diagnostics)) {
        process.stdout.write(
          formatDiagnostics(diagnostics, "text", { lineOf: (f, l) => sources.get(f)?.sourceLine(l) }),
        );
        process.exitCode = EXIT.failed;
        return;
      }
      process.stdout.write(
        `Created an automation repository in ${dir}:\n${[...files.keys()].map((p) => `  ${p}`).join("\n")}\n\n` +
          `Next:\n  cd ${dir}\n  opsc validate\n  opsc plan hello\n  git add -A && git commit -m "automation repository"\n`,
      );
    });
}

/** library/steps of the installed opsc, as `steps/...` paths; found upward from this file (source or bundle). */
function standardLibrary(): Map<string, string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "library/steps"))) {
    const up = dirname(dir);
    if (up === dir)
      throw userError("init.no-library", "the standard library is not installed with this opsc");
    dir = up;
  }
  const root = join(dir, "library/steps");
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith(".yaml"))
        out.set(`steps/${relative(root, full).split(sep).join("/")}`, readFileSync(full, "utf8"));
    }
  };
  walk(root);
  return out;
}

async function updateSchemas(root: string): Promise<void> {
  const { editorFiles } = await import("../../repo/init-files.js");
  const settingsPath = join(root, ".vscode/settings.json");
  const existing = existsSync(settingsPath) ? readFileSync(settingsPath, "utf8") : undefined;
  const files = editorFiles(existing);
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  if (!files.has(".vscode/settings.json")) {
    process.stderr.write(
      "opsc: .vscode/settings.json is not plain JSON (comments?); add the yaml.schemas mapping by hand (see docs/validation.md)\n",
    );
  }
  process.stdout.write(`Updated ${[...files.keys()].join(", ")}\n`);
}
