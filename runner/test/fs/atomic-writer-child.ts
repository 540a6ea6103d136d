/**
 * A separate process for the atomic-write test (run with tsx):
 *   FILE BYTE COUNT SIZE   write COUNT times SIZE bytes of BYTE (a character) to FILE
 */
import { writeFileAtomic } from "../../src/fs/write-file-atomic.js";

const [file, byte, count, size] = process.argv.slice(2);
if (!file || !byte || !count || !size) throw new Error("usage: atomic-writer-child.ts FILE BYTE COUNT SIZE");
const text = byte.repeat(Number(size));
for (let i = 0; i < Number(count); i++) writeFileAtomic(file, text);
