/**
 * The plain-ssh2 floor as a whole process: what a hand-written ssh2 script
 * pays from `node script.mjs` to its exit (start-up, loading ssh2, reading
 * the key, the connections). Bundled by the start-up bench (ssh2 stays
 * installed, as a user's script would load it) and run as
 * `node ssh2-floor-process.mjs HOSTS.json`, HOSTS.json holding
 * `{ hosts: [{ host, port, user }], keyFile, commands }`.
 */
import { readFileSync } from "node:fs";
import { floor, parsedKey } from "./ssh2-floor.js";

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as {
  hosts: Array<{ host: string; port: number; user: string }>;
  keyFile: string;
  commands: string[];
};
const key = parsedKey(readFileSync(spec.keyFile, "utf8"));
await floor(
  spec.hosts.map((h) => ({ ...h, key })),
  spec.commands,
);
