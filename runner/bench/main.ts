/**
 * `npm run bench [-- NAME...]`: speed and memory figures, each as a ratio to a
 * floor measured in the same run on the same machine. Names: validate, fanout,
 * commit-back, webhook (default: all). Figures are printed, never asserted:
 * timing belongs here, not in unit tests.
 */
import { benchCommitBack } from "./commit-back.js";
import { benchFanout } from "./fanout.js";
import { benchValidate } from "./validate.js";
import { benchWebhook } from "./webhook.js";

const BENCHES: Record<string, () => Promise<unknown>> = {
  validate: () => benchValidate(),
  fanout: () => benchFanout({ ansible: !process.argv.includes("--no-ansible") }),
  "commit-back": () => benchCommitBack(),
  webhook: () => benchWebhook(),
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const unknown = asked.filter((a) => !(a in BENCHES));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(", ")} (known: ${Object.keys(BENCHES).join(", ")})`);
  process.exit(2);
}
for (const name of asked.length ? asked : Object.keys(BENCHES)) {
  console.log(`\n== ${name}`);
  const started = performance.now();
  await BENCHES[name]!();
  console.log(`(${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
