/**
 * Follows a run on a server through `GET /api/runs/ID/events`: a small
 * Server-Sent Events reader over fetch's body stream (`opsc runs show
 * --follow` and the tests use it).
 */
import { environmentError, userError } from "../core/errors.js";
import type { RunEvent } from "../core/run-events.js";

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Messages of an event stream, in order, until the server closes it. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buf = "";
  let msg: { event?: string; data: string[]; id?: string } = { data: [] };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (msg.data.length > 0 || msg.event)
          yield {
            event: msg.event ?? "message",
            data: msg.data.join("\n"),
            ...(msg.id ? { id: msg.id } : {}),
          };
        msg = { data: [] };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") msg.event = value;
      else if (field === "data") msg.data.push(value);
      else if (field === "id") msg.id = value;
    }
  }
}

/** The run's events from the start; returns when the server ends the stream (the run ended). */
export async function* followRun(
  server: string,
  id: string,
  token: string | undefined,
  signal?: AbortSignal,
): AsyncGenerator<RunEvent> {
  const url = new URL(`/api/runs/${encodeURIComponent(id)}/events`, server);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    throw environmentError("follow.unreachable", `cannot reach ${url.origin}: ${(e as Error).message}`, {
      hint: "check --server (for example http://127.0.0.1:8080)",
    });
  }
  if (res.status === 401 || res.status === 403)
    throw userError("follow.refused", `${url.origin} refused the request (${res.status})`, {
      hint: "set OPSC_TOKEN to a token the server accepts",
    });
  if (res.status === 404) throw userError("follow.unknown-run", `the server knows no run "${id}"`);
  if (!res.ok || !res.body) throw environmentError("follow.failed", `${url.origin} answered ${res.status}`);
  for await (const m of readSse(res.body)) {
    if (m.event === "end") return;
    yield JSON.parse(m.data) as RunEvent;
  }
}
