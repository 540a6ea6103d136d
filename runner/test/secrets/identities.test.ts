import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as age from "age-encryption";
import { describe, expect, it } from "vitest";
import { defaultKeyFile, loadIdentities, parseIdentityFile } from "../../src/secrets/identities.js";

describe("identities", () => {
  it("reads SOPS_AGE_KEY, SOPS_AGE_KEY_FILE and the default key file together", async () => {
    const home = mkdtempSync(join(tmpdir(), "opsc-ids-"));
    const [a, b, c] = await Promise.all([
      age.generateX25519Identity(),
      age.generateX25519Identity(),
      age.generateHybridIdentity(),
    ]);
    const env = {
      HOME: home,
      XDG_CONFIG_HOME: join(home, "cfg"),
      SOPS_AGE_KEY: `# comment\n${a}\n`,
      SOPS_AGE_KEY_FILE: join(home, "k.txt"),
    };
    writeFileSync(join(home, "k.txt"), `${b}\n`);
    mkdirSync(join(home, "cfg/sops/age"), { recursive: true });
    writeFileSync(defaultKeyFile(env), `# public key: x\n${c}\n`);
    const loaded = await loadIdentities(env);
    expect(loaded.identities).toEqual([a, b, c]);
    expect(loaded.sources).toEqual([
      "SOPS_AGE_KEY",
      join(home, "k.txt"),
      join(home, "cfg/sops/age/keys.txt"),
    ]);
  });

  it("defaults to ~/.config/sops/age/keys.txt without XDG_CONFIG_HOME", () => {
    expect(defaultKeyFile({ HOME: "/home/u" })).toBe("/home/u/.config/sops/age/keys.txt");
  });

  it("a missing SOPS_AGE_KEY_FILE is an environment error naming the variable", async () => {
    await expect(
      loadIdentities({ HOME: "/nonexistent", SOPS_AGE_KEY_FILE: "/nonexistent/k" }),
    ).rejects.toThrow("SOPS_AGE_KEY_FILE names /nonexistent/k, which does not exist");
  });

  it("a bad line is reported by number, never echoed", () => {
    expect(() => parseIdentityFile("# ok\nage1notasecretbutarecipient\n", "keys.txt")).toThrow(
      "keys.txt:2: this line is not an age identity",
    );
    expect(() => parseIdentityFile("AGE-PLUGIN-YUBIKEY-1ABC\n", "keys.txt")).toThrow(
      /plugin identities are not supported/,
    );
  });
});
