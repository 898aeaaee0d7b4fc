/**
 * The page's one connection to its daemon: the typed client (same origin, session cookie, CSRF token
 * kept in memory) and the live event stream. Both come from src/client/, the contract's own client.
 */
import { EventStream, streamUrl } from "../../src/client/events.ts";
import { ApiClient } from "../../src/client/rpc.ts";

type Listener = () => void;
const sessionLost = new Set<Listener>();

export const client = new ApiClient({
  auth: { kind: "browser" },
  onUnauthenticated: () => {
    for (const listener of sessionLost) listener();
  },
});

export const stream = new EventStream({ url: streamUrl(window.location) });

/** Told when a call was refused for want of a session (expired, logged out elsewhere). */
export function onSessionLost(listener: Listener): () => void {
  sessionLost.add(listener);
  return () => sessionLost.delete(listener);
}

export type { MethodName, Params, Result } from "../../src/api/contract.ts";
export { isRpcError, RpcCallError, TransportError } from "../../src/client/errors.ts";
