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
// Adapter folders: a door reaches them only through the use-case layer (app/).
const ADAPTERS = [
  "git",
  "records",
  "notify",
  "secrets",
  "transports",
  "triggers",
  "review",
  "discover",
  "inventory",
  "tokens",
];
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
  // Doors. A door imports app/ (use cases), the pure core (core/, repo/, plan/), fs/ and its own
  // folder; adapters only through app/ (type imports are free). doorRules takes exceptions (a
  // door file and the adapters it may import); none is needed today, and a new one must be listed
  // in docs/architecture.md with the reason.
  ...cliRules(),
  ...doorRules("action/src/**/*.ts", "The action", [
    layer("cli", `may not import cli/: ${DOORS}; move what both use into app/ or core/.`)("The action"),
    layer("server", `may not import server/: ${DOORS}.`)("The action"),
  ]),
  ...serverRules(),
);

/** The CLI: start-server.ts is the one piece of another door it may import (opsc serve starts it). */
function cliRules() {
  const others = [
    layer("action/src", `may not import action/: ${DOORS}.`)("The CLI"),
    {
      group: ["**/server/*", "!**/server/start-server*"],
      message: `The CLI may start the server (server/start-server.ts) but import nothing else of it: ${DOORS}.`,
    },
  ];
  return doorRules("runner/src/cli/**/*.ts", "The CLI", others);
}

/** The server door: its Git mirror, claims and redactor come from the use-case layer (app/). */
function serverRules() {
  const others = [
    layer("cli", `may not import cli/: ${DOORS}.`)("The server"),
    layer("action/src", `may not import action/: ${DOORS}.`)("The server"),
  ];
  return doorRules("runner/src/server/**/*.ts", "The server", others);
}

/**
 * The rule blocks of one door: `files` may import no adapter, and each
 * exception (a glob of files) may import the adapters it lists. Later blocks
 * replace earlier ones for the same file, so an exception repeats the rest.
 */
function doorRules(files, name, others, exceptions = {}) {
  const rule = (allowed) => [
    ...others,
    ...noEngine(`${name} (a door)`),
    ...ADAPTERS.filter((a) => !allowed.includes(a)).map((a) =>
      layer(
        a,
        `may not import ${a}/: a door imports only app/ (the use cases), the pure core (core/, repo/, plan/) and fs/; reach ${a}/ through a use case in app/.`,
      )(`${name} (a door)`),
    ),
    gitSubpaths,
  ];
  return [
    restrict([files], rule([])),
    ...Object.entries(exceptions).map(([glob, allowed]) => restrict([glob], rule(allowed))),
    noDynamicAdapterImports(files, name),
  ];
}

/**
 * `no-restricted-imports` sees only static imports; a door loads its use
 * cases on use with `import()`, so the same rule is checked there too.
 */
function noDynamicAdapterImports(files, name) {
  const folders = [...ADAPTERS, "run"].join("|");
  return {
    files: [files],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: `ImportExpression[source.value=/(^|\\/)(${folders})\\//]`,
          message: `${name} (a door) may not load the engine or an adapter with import(): load the use case in app/ that uses it.`,
        },
      ],
    },
  };
}
