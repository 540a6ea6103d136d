import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers (docs/architecture.md): doors (cli, action, server) call the
 * use-case layer (app); app drives the engine (run) and the adapters; the
 * engine and the adapters never call back up; core is imported by all and
 * imports nothing. A backward import fails lint with the rule it breaks.
 */
const layer = (folder, message) => (name) => ({
  group: [`**/${folder}/*`, `**/${folder}/**`, `**/${folder}`],
  message: `${name} ${message}`,
});
const DOORS = "doors (cli, action, server) are entry points: nothing imports a door";
const noDoors = (name) => [
  layer("cli", `may not import cli/: ${DOORS}.`)(name),
  layer("action/src", `may not import action/: ${DOORS}.`)(name),
  layer("server", `may not import server/: ${DOORS}.`)(name),
];
const noApp = (name) => [
  layer(
    "app",
    "may not import app/: the use-case layer calls the engine and the adapters, not the other way round.",
  )(name),
];
const noEngine = (name) => [
  layer("run", "may not import run/ (the engine): only the use-case layer (app/) drives a run.")(name),
];
const GIT_ONLY = {
  name: "isomorphic-git",
  message: "only runner/src/git (the Git adapter) imports isomorphic-git: use GitRepository.",
};
const restrict = (files, patterns, extra = {}) => ({
  files,
  ...extra,
  rules: {
    "no-restricted-imports": [
      "error",
      {
        paths: [GIT_ONLY],
        patterns: patterns.map((p) => ({ ...p, allowTypeImports: true })),
      },
    ],
  },
});
// isomorphic-git/http/node and friends
const gitSubpaths = { group: ["isomorphic-git/*"], message: GIT_ONLY.message };

export default tseslint.config(
  { ignores: ["dist/**", "action/dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // Layering. Later blocks for the same file replace earlier ones, so each folder appears once.
  restrict(["runner/src/**/*.ts", "action/src/**/*.ts"], [gitSubpaths]),
  restrict(
    ["runner/src/core/**/*.ts"],
    [
      {
        group: ["../*", "../**"],
        message: "core/ imports nothing outside core/: it is the shared vocabulary of every layer.",
      },
      gitSubpaths,
    ],
  ),
  restrict(
    ["runner/src/run/**/*.ts"],
    [
      ...noDoors("The engine (run/)"),
      ...noApp("The engine (run/)"),
      layer(
        "records",
        "may not import records/: the use case records what the engine reports through events.",
      )("The engine (run/)"),
      layer(
        "notify",
        "may not import notify/: the use case wires notifications as event listeners.",
      )("The engine (run/)"),
      layer(
        "git",
        "may not import git/: the use case reads the repository and hands the engine a plan.",
      )("The engine (run/)"),
      gitSubpaths,
    ],
  ),
  restrict(
    ["runner/src/{plan,repo,secrets,transports,triggers,review,inventory,discover,records}/**/*.ts"],
    [...noDoors("An adapter"), ...noApp("An adapter"), ...noEngine("An adapter"), gitSubpaths],
  ),
  restrict(
    ["runner/src/notify/**/*.ts"],
    [
      ...noDoors("notify/"),
      ...noApp("notify/"),
      ...noEngine("notify/"),
      {
        group: ["**/records/records-branch*", "**/records/journal*", "**/records/commit-record*"],
        message: "notify/ does not read or write records: the use case reads what it needs and passes it in.",
      },
      gitSubpaths,
    ],
  ),
  {
    files: ["runner/src/git/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...[
              ...noDoors("git/ (the Git adapter)"),
              ...noApp("git/ (the Git adapter)"),
              ...noEngine("git/ (the Git adapter)"),
            ].map((p) => ({ ...p, allowTypeImports: true })),
            layer(
              "records",
              "may not import records/: records are written through the Git adapter, not the reverse.",
            )("git/ (the Git adapter)"),
          ],
        },
      ],
    },
  },
  restrict(["runner/src/app/**/*.ts"], [...noDoors("The use-case layer (app/)"), gitSubpaths]),
  restrict(
    ["runner/src/cli/**/*.ts"],
    [
      layer("action/src", `may not import action/: ${DOORS}.`)("The CLI"),
      {
        group: ["**/server/*", "!**/server/start-server*"],
        message: `The CLI may start the server (server/start-server.ts) but import nothing else of it: ${DOORS}.`,
      },
      ...noEngine("The CLI (a door)"),
      layer(
        "git",
        "may not import git/: doors reach Git through the use-case layer (app/workspace.ts and friends).",
      )("The CLI (a door)"),
      gitSubpaths,
    ],
  ),
  restrict(
    ["action/src/**/*.ts"],
    [
      layer("cli", `may not import cli/: ${DOORS}; move what both use into app/ or core/.`)("The action"),
      layer("server", `may not import server/: ${DOORS}.`)("The action"),
      ...noEngine("The action (a door)"),
      layer("git", "may not import git/: doors reach Git through the use-case layer.")("The action (a door)"),
      gitSubpaths,
    ],
  ),
  restrict(
    ["runner/src/server/**/*.ts"],
    [
      layer("cli", `may not import cli/: ${DOORS}.`)("The server"),
      layer("action/src", `may not import action/: ${DOORS}.`)("The server"),
      ...noEngine("The server (a door)"),
      {
        group: ["**/git/*", "!**/git/repo-mirror*", "!**/git/claims*", "!**/git/display-url*"],
        message:
          "The server may use git/ only for its mirror and claims; everything else goes through the use-case layer (app/).",
      },
      gitSubpaths,
    ],
  ),
);
