import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findUp } from "../../src/fs/find-up.js";

let top: string;
beforeEach(() => {
  top = mkdtempSync(join(tmpdir(), "opsc-find-up-"));
  mkdirSync(join(top, "a", "b", "c"), { recursive: true });
});
afterEach(() => {
  rmSync(top, { recursive: true, force: true });
});

describe("findUp", () => {
  it("finds a name in the starting folder or the nearest folder above it", () => {
    writeFileSync(join(top, "marker"), "");
    writeFileSync(join(top, "a", "b", "marker"), "");
    expect(findUp("marker", join(top, "a", "b", "c"))).toBe(join(top, "a", "b", "marker"));
    expect(findUp("marker", join(top, "a", "b"))).toBe(join(top, "a", "b", "marker"));
    expect(findUp("marker", join(top, "a"))).toBe(join(top, "marker"));
  });

  it("finds folders too, and resolves a relative start", () => {
    mkdirSync(join(top, "a", ".git"));
    const rel = join(top, "a", "b", "c", "..");
    expect(findUp(".git", rel)).toBe(join(top, "a", ".git"));
  });

  it("prefers the nearest folder over the order of the names, then the order of the names", () => {
    writeFileSync(join(top, ".sops.yaml"), "");
    writeFileSync(join(top, "a", ".sops.yml"), "");
    expect(findUp([".sops.yaml", ".sops.yml"], join(top, "a", "b"))).toBe(join(top, "a", ".sops.yml"));
    writeFileSync(join(top, "a", ".sops.yaml"), "");
    expect(findUp([".sops.yaml", ".sops.yml"], join(top, "a", "b"))).toBe(join(top, "a", ".sops.yaml"));
  });

  it("gives undefined when no folder up to the root has the name", () => {
    expect(findUp("no-such-name-anywhere-7f3a", join(top, "a", "b", "c"))).toBeUndefined();
  });
});
