/**
 * Work submitted under a replica's claim: a claim whose work could not be
 * submitted is freed at once for another replica; once submitted, it stays
 * renewed until the work's runs are recorded, then says done for good.
 */
import type { WonClaim } from "../git/claims.js";
import type { WorkItem } from "./work-item.js";

export async function submitUnderClaim(
  claim: WonClaim | undefined,
  submit: () => Promise<WorkItem[]>,
  ended: (items: WorkItem[]) => Promise<void>,
): Promise<WorkItem[]> {
  let items: WorkItem[];
  try {
    items = await submit();
  } catch (e) {
    await claim?.abandon().catch(() => undefined);
    throw e;
  }
  // Submitted: never abandoned from here, or another replica would run it too.
  if (claim)
    void ended(items)
      .then(() => claim.done())
      .catch(() => undefined);
  return items;
}
