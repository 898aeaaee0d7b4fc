/**
 * The handlers of peers (docs/peers.md): the nodes this one fetches bundles and images from, and
 * the grants of who may fetch from it. Tokens go in and never come out, but for a new grant's, shown
 * once. Their schemas are in contract.ts (market-views.ts).
 */
import {
  newPeerToken,
  parsePeerUrl,
  peerNameProblem,
  peerTokenDigest,
  peerTokenProblem,
} from "../peers/peers.ts";
import { probePeer } from "../peers/probe.ts";
import type { ApiContext, ApiHandlers } from "./context.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

const invalid = (field: string, problem: string) =>
  new RpcError(RPC_CODES.invalidParams, `invalid params: ${field}: ${problem}`, {
    issues: [{ field, problem }],
  });

function view(ctx: ApiContext) {
  const { store } = ctx.orchestrator;
  return {
    peers: store.peers().map(({ url, addedAt }) => ({ url, addedAt })),
    grants: store.peerGrants(),
  };
}

function peerUrl(text: string): string {
  const parsed = parsePeerUrl(text);
  if ("problem" in parsed) throw invalid("url", parsed.problem);
  return parsed.url;
}

export const PEER_HANDLERS: ApiHandlers<
  "peers.list" | "peers.add" | "peers.remove" | "peers.grant" | "peers.revoke"
> = {
  "peers.list": (_params, ctx) => view(ctx),
  "peers.add": async ({ url, token }, ctx) => {
    const canonical = peerUrl(url);
    const problem = peerTokenProblem(token);
    if (problem) throw invalid("token", problem);
    // A peer that answers and refuses is a mistake to fix now; one that does not answer may be off.
    const check = await probePeer(canonical, token);
    if (check.answered && !check.accepted)
      throw new RpcError(
        RPC_CODES.invalidParams,
        `the peer at ${canonical} was not added: ${check.message}`,
        {
          issues: [{ field: "token", problem: check.message }],
        },
      );
    const added = ctx.orchestrator.store.putPeer(canonical, token, ctx.clock());
    return { added, peers: view(ctx), check };
  },
  "peers.remove": ({ url }, ctx) => {
    const parsed = parsePeerUrl(url);
    if (!("url" in parsed) || !ctx.orchestrator.store.removePeer(parsed.url))
      throw new RpcError(RPC_CODES.notFound, `no peer ${url}: see peers.list (archy peers ls)`);
    return view(ctx);
  },
  "peers.grant": ({ name }, ctx) => {
    const problem = peerNameProblem(name);
    if (problem) throw invalid("name", problem);
    const token = newPeerToken();
    if (!ctx.orchestrator.store.addPeerGrant(name, peerTokenDigest(token), ctx.clock()))
      throw invalid(
        "name",
        `${name} has a grant already: revoke it first (archy peers revoke ${name}) to issue a new token`,
      );
    return { name, token };
  },
  "peers.revoke": ({ name }, ctx) => {
    if (!ctx.orchestrator.store.removePeerGrant(name))
      throw new RpcError(RPC_CODES.notFound, `no grant named ${name}: see peers.list (archy peers ls)`);
    return view(ctx);
  },
};
