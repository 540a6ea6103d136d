/**
 * Where a run's record folder is on GitHub, for the job summary: links there
 * must be absolute, and exist only once the record reached the repository.
 */
import type { CommitRecordResult } from "../../runner/src/records/commit-record.js";
import type { GithubEvent } from "./github-event.js";

const ON_REMOTE = new Set(["pushed", "already-landed", "up-to-date"]);

/** The folder's `blob` address on the records branch; null when it is not on GitHub. */
export function recordUrl(event: GithubEvent, record: CommitRecordResult): string | null {
  if (!event.repository || !ON_REMOTE.has(record.push.status)) return null;
  const branch = record.branch.split("/").map(encodeURIComponent).join("/");
  return `${event.serverUrl.replace(/\/+$/, "")}/${event.repository}/blob/${branch}/${record.path}`;
}
