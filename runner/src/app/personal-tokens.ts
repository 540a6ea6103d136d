/**
 * The personal API tokens of `opsc serve`, kept in its state directory: the
 * server checks them on each request, `opsc tokens` creates, lists and
 * revokes them offline. Both open the store here, at the same place.
 */
import { TokenStore } from "../tokens/token-store.js";

export type { TokenStore };

export function openTokenStore(stateDir: string): TokenStore {
  return new TokenStore(stateDir);
}
