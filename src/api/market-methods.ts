/**
 * The handlers of the Nostr marketplace's methods (docs/marketplace.md): relays, the operator's
 * identity and trust settings, what the relays offer with each publisher's trust, and the install
 * and update of a marketplace app (through package.install and package.update, like any app).
 * Their schemas are in contract.ts (market-views.ts).
 */

import type { z } from "zod";
import { isAppVersion, isNewerVersion } from "../manifest/app-version.ts";
import { MarketError, npub, parsePublicKey } from "../marketplace/identity.ts";
import type { Note, OfferView, Prepared } from "../marketplace/market.ts";
import { riskOf } from "../marketplace/trust.ts";
import type { Accepted } from "../orchestrator/lifecycle.ts";
import type { ApiContext, ApiHandlers } from "./context.ts";
import type { OfferViewSchema } from "./market-views.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

export function offerView(offer: OfferView): z.input<typeof OfferViewSchema> {
  const same = offer.installed?.source === offer.source ? offer.installed : undefined;
  return {
    id: offer.app.id,
    address: offer.app.address,
    name: offer.app.name,
    description: offer.app.description,
    category: offer.app.category,
    version: offer.release.version,
    source: offer.source,
    publisher: offer.npub,
    nip05: offer.nip05 ?? null,
    trust: offer.trust,
    flags: offer.flags,
    installedVersion: same?.version ?? null,
    updateAvailable:
      same !== undefined && isAppVersion(same.version) && isNewerVersion(offer.release.version, same.version),
    otherSource: offer.installed && !same ? offer.installed.source : null,
    bundle: { ...offer.asset.bundle, urls: offer.asset.urls },
  };
}

/** Runs a settings change; a value the marketplace refuses is an invalid params error naming `field`. */
function market<T>(field: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof MarketError)
      throw new RpcError(RPC_CODES.invalidParams, `invalid params: ${field}: ${error.message}`, {
        issues: [{ field, problem: error.message }],
      });
    throw error;
  }
}

/**
 * The marketplace app a package.install or package.update means, made installable: chosen by id
 * (and source when several publishers offer it), its risk confirmed when its publisher is below the
 * threshold, its release and bundle verified. Nothing is installed when this throws.
 */
export async function marketSourced(
  ctx: ApiContext,
  id: string,
  options: { source?: string | undefined; confirmRisk: boolean; update: boolean },
): Promise<Prepared> {
  const offers = ctx.market.offersOf(id, options.source);
  if (offers.length === 0)
    throw new RpcError(
      RPC_CODES.notFound,
      options.source
        ? `${options.source} offers no app ${id}: see market.list (archy market ls)`
        : `no app ${id} in any source: see package.available`,
    );
  if (offers.length > 1)
    throw new RpcError(
      RPC_CODES.invalidParams,
      `${offers.length} publishers offer an app ${id}: ${offers.map((o) => `${o.source} (trust ${o.trust.score}, ${o.trust.level})`).join("; ")}; they are different apps: choose one with source`,
      { issues: [{ field: "source", problem: "several publishers offer this id" }] },
    );
  const offer = offers[0] as OfferView;
  const installed = ctx.orchestrator.store.getApp(id);
  if (installed && installed.source !== offer.source)
    throw new RpcError(
      RPC_CODES.otherSource,
      `${id} is installed from ${installed.source}; the ${id} of ${offer.source} is another app (another publisher): it never replaces or updates the installed one; uninstall ${id} first to install it`,
      { installed: installed.source, offered: offer.source },
    );
  const threshold = ctx.market.threshold();
  // An update from the same publisher asks again only when the network has turned against them.
  const risk =
    options.update && offer.trust.level !== "reported" && offer.trust.level !== "muted"
      ? undefined
      : riskOf(`${id} ${offer.release.version}`, offer.npub, offer.trust, threshold);
  if (risk && !options.confirmRisk)
    throw new RpcError(
      RPC_CODES.trustConfirmationRequired,
      `${risk}; install it only if you trust it: confirm with confirmRisk`,
      {
        trust: offer.trust,
        publisher: offer.npub,
        threshold,
      },
    );
  try {
    return await ctx.market.prepare(offer);
  } catch (error) {
    if (error instanceof MarketError) throw new RpcError(RPC_CODES.verificationFailed, error.message);
    throw error;
  }
}

/**
 * Writes where a marketplace app's bundle came from (a peer, a mirror, the node's copy) and which
 * source was dropped, in the log of the operation that installs it.
 */
export function noteOperation(ctx: ApiContext, accepted: Accepted, notes: readonly Note[]): void {
  if (accepted.existing) return;
  for (const note of notes) {
    const line = ctx.orchestrator.store.appendLog(
      accepted.operationId,
      note.level,
      note.message,
      ctx.clock(),
    );
    ctx.publish({ type: "log", appId: accepted.appId, line });
  }
}

export const MARKET_HANDLERS: ApiHandlers<
  | "market.relays"
  | "market.relays.add"
  | "market.relays.remove"
  | "market.settings"
  | "market.settings.set"
  | "market.refresh"
  | "market.list"
> = {
  "market.relays": (_params, ctx) => ctx.market.relays(),
  "market.relays.add": ({ url }, ctx) => {
    const added = market("url", () => ctx.market.addRelay(url));
    return { added, relays: ctx.market.relays() };
  },
  "market.relays.remove": ({ url }, ctx) => {
    const removed = ctx.market.removeRelay(url);
    if (!removed)
      throw new RpcError(RPC_CODES.notFound, `no relay ${url}: see market.relays (archy market relays ls)`);
    return { removed, relays: ctx.market.relays() };
  },
  "market.settings": (_params, ctx) => settingsView(ctx),
  "market.settings.set": ({ identity, threshold, provider }, ctx) => {
    // Every value is checked before any is kept: a refused one changes nothing.
    const identityKey = market("identity", () => (identity ? parseKey(identity) : identity));
    const providerKey = market("provider", () => (provider ? parseKey(provider) : provider));
    if (identityKey !== undefined) ctx.market.setIdentity(identityKey ?? undefined);
    if (threshold !== undefined) ctx.market.setThreshold(threshold);
    if (providerKey !== undefined) ctx.market.setProvider(providerKey ?? undefined);
    return settingsView(ctx);
  },
  "market.refresh": (_params, ctx) => ctx.market.refresh(),
  "market.list": (_params, ctx) => ({
    apps: ctx.market.listing().map(offerView),
    installed: ctx.orchestrator.store
      .listApps()
      .filter((a) => a.source.startsWith("nostr:"))
      .map((a) => ({ id: a.id, version: a.version, source: a.source, flags: ctx.market.flagsOf(a) })),
  }),
};

function parseKey(text: string): string {
  const key = parsePublicKey(text);
  if (!key)
    throw new MarketError(
      `${JSON.stringify(text)} is not a Nostr public key: give an npub1… (or its 64 hex digits)`,
    );
  return key;
}

function settingsView(ctx: ApiContext) {
  const identity = ctx.market.identity();
  const provider = ctx.market.provider();
  return {
    identity: identity ? npub(identity) : null,
    threshold: ctx.market.threshold(),
    provider: provider ? npub(provider) : null,
  };
}
