/** Raw request bodies of the webhook routes: checked as bytes, then parsed. */
export function asBuffer(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
