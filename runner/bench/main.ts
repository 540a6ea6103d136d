/**
 * `npm run bench [-- NAME...]`: speed and memory figures, each as a ratio to a
 * floor measured in the same run on the same machine. Names: validate, fanout,
 * startup, commit-back, webhook, runs-page (default: all). Figures are printed, never asserted:
 * timing belongs here, not in unit tests.
 *
 * Each bench runs in a process of its own, so one bench's heap and open
 * handles never weigh on the next one's figures (peak memory above all).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchCommitBack } from "./commit-back.js";
import { benchFanout } from "./fanout.js";
import { benchRunsPage } from "./runs-page.js";
import { benchStartupAll } from "./startup.js";
import { benchValidate } from "./validate.js";
import { benchWebhook } from "./webhook.js";

const BENCHES: Record<string, () => Promise<unknown>> = {
  validate: () => benchValidate(),
  fanout: () => benchFanout({ ansible: !process.argv.includes("--no-ansible") }),
  startup: () => benchStartupAll({ ansible: !process.argv.includes("--no-ansible") }),
  "commit-back": () => benchCommitBack(),
  webhook: () => benchWebhook(),
  "runs-page": () => benchRunsPage(),
};

const only = process.argv.indexOf("--only");
if (only >= 0) {
  const name = process.argv[only + 1] ?? "";
  await BENCHES[name]!();
} else {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const unknown = asked.filter((a) => !(a in BENCHES));
  if (unknown.length) {
    console.error(`unknown bench: ${unknown.join(", ")} (known: ${Object.keys(BENCHES).join(", ")})`);
    process.exit(2);
  }
  const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
  let failed = false;
  for (const name of asked.length ? asked : Object.keys(BENCHES)) {
    console.log(`\n== ${name}`);
    const started = performance.now();
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), "--only", name, ...flags],
      { stdio: "inherit" },
    );
    if (r.status !== 0) failed = true;
    console.log(`(${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  process.exitCode = failed ? 1 : 0;
}
