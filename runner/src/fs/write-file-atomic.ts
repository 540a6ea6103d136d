/**
 * Replaces a file so that a reader, a crash or a power cut finds either the
 * old content or the new, never a mix. The new content goes to a temporary
 * file beside the target (random name, created exclusively, so two writers
 * never share one and a planted file or link is never followed), is flushed
 * to disk, then renamed over the target; the folder is flushed too, so the
 * rename itself survives a power cut.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export interface WriteFileAtomicOptions {
  /** The new file's mode. Without it an existing file keeps its mode and a new one gets 0o666 less the umask. */
  mode?: number;
}

export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): void {
  const dir = dirname(file);
  const mode = options.mode ?? modeOf(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(8).toString("hex")}.tmp`);
  let fd: number | undefined = openSync(tmp, "wx", mode ?? 0o666);
  try {
    writeFileSync(fd, data);
    // The umask narrows the mode given to open(); a kept or asked-for mode is set exactly.
    if (mode !== undefined) fchmodSync(fd, mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

function modeOf(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o7777;
  } catch {
    return undefined;
  }
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch (e) {
    // Windows cannot open or flush a folder; the rename is as durable as it gets there.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL") throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
