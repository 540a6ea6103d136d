import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/fs/write-file-atomic.js";

const CHILD = join(import.meta.dirname, "atomic-writer-child.ts");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "opsc-atomic-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("creates a file and replaces it whole, leaving nothing beside it", () => {
    const file = join(dir, "state.json");
    writeFileAtomic(file, "first");
    writeFileAtomic(file, new TextEncoder().encode("second"));
    expect(readFileSync(file, "utf8")).toBe("second");
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });

  it("keeps the mode of the file it replaces", () => {
    const file = join(dir, "secret.yaml");
    writeFileSync(file, "old");
    chmodSync(file, 0o600);
    writeFileAtomic(file, "new");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o755);
    writeFileAtomic(file, "newer");
    expect(statSync(file).mode & 0o777).toBe(0o755);
  });

  it("gives a new file exactly the mode asked for, whatever the umask", () => {
    const file = join(dir, "new.txt");
    const old = process.umask(0o077);
    try {
      writeFileAtomic(file, "x", { mode: 0o644 });
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });

  it("removes its temporary file when the rename fails and leaves the target alone", () => {
    const target = join(dir, "taken");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "keep");
    expect(() => writeFileAtomic(target, "data")).toThrow();
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readFileSync(join(target, "inside"), "utf8")).toBe("keep");
  });

  it("fails cleanly when the folder does not exist", () => {
    expect(() => writeFileAtomic(join(dir, "missing", "f"), "data")).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("never writes through a file planted at a predictable temporary name", () => {
    const file = join(dir, "state.json");
    const victim = join(dir, "victim");
    writeFileSync(victim, "untouched");
    // The names earlier copies used: a fixed `.tmp` suffix and the process id.
    for (const name of [`${file}.tmp`, `${file}.${process.pid}.tmp`, `.state.json.tmp`])
      symlinkSync(victim, name.includes("/") ? name : join(dir, name));
    writeFileAtomic(file, "mine");
    expect(readFileSync(file, "utf8")).toBe("mine");
    expect(readFileSync(victim, "utf8")).toBe("untouched");
  });

  it("never shows a reader a torn file while several processes write at once", async () => {
    const file = join(dir, "shared.txt");
    const size = 128 * 1024;
    writeFileAtomic(file, "a".repeat(size));
    const writers = ["b", "c", "d"].map(
      (byte) =>
        new Promise<number | null>((resolve, reject) => {
          const p = spawn(process.execPath, ["--import", "tsx", CHILD, file, byte, "25", String(size)], {
            stdio: ["ignore", "ignore", "inherit"],
          });
          p.on("error", reject);
          p.on("exit", (code) => resolve(code));
        }),
    );
    let running = true;
    const finished = Promise.all(writers).finally(() => (running = false));
    const seen = new Set<string>();
    let reads = 0;
    while (running) {
      const text = readFileSync(file, "utf8");
      reads++;
      expect(text.length).toBe(size);
      const first = text[0]!;
      expect(text).toBe(first.repeat(size));
      seen.add(first);
      await new Promise((r) => setImmediate(r));
    }
    expect(await finished).toEqual([0, 0, 0]);
    expect(reads).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(["shared.txt"]);
    expect(existsSync(file)).toBe(true);
  });
});
