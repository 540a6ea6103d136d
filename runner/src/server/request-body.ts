/** Raw request bodies of the webhook routes: checked as bytes, then parsed. */
import { isRecord } from "../core/is-record.js";

export function asBuffer(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

export function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
