/**
 * GitHub webhook deliveries for tests, built from GitHub's own example
 * payloads (@octokit/webhooks-examples) and signed the way GitHub signs them.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { Webhooks } from "@octokit/webhooks";

interface ExampleGroup {
  name: string;
  examples: Array<Record<string, unknown>>;
}

const require = createRequire(import.meta.url);
const groups = require("@octokit/webhooks-examples/api.github.com/index.json") as ExampleGroup[];

/** GitHub's first example of an event, with fields replaced. */
export function examplePayload(
  event: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const group = groups.find((g) => g.name === event);
  const example = group?.examples[0];
  if (!example) throw new Error(`no example for ${event}`);
  return { ...structuredClone(example), ...overrides };
}

export interface Delivery {
  event: string;
  id: string;
  body: string;
}

export function delivery(
  event: string,
  payload: Record<string, unknown>,
  id: string = randomUUID(),
): Delivery {
  return { event, id, body: JSON.stringify(payload) };
}

/** POSTs a delivery; `secret: null` sends no signature, a wrong secret a wrong one. */
export async function send(baseUrl: string, d: Delivery, secret: string | null): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": d.event,
    "x-github-delivery": d.id,
    "user-agent": "GitHub-Hookshot/test",
  };
  if (secret !== null) headers["x-hub-signature-256"] = await new Webhooks({ secret }).sign(d.body);
  return fetch(`${baseUrl}/webhooks/github`, { method: "POST", headers, body: d.body });
}

export async function sign(secret: string, body: string): Promise<string> {
  return new Webhooks({ secret }).sign(body);
}
