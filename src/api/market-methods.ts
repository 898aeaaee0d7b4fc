/**
 * The API of the Nostr marketplace (docs/marketplace.md): relays, the operator's identity and trust
 * settings, what the relays offer with each publisher's trust, and the install and update of a
 * marketplace app (through package.install and package.update, like any app).
 */
import semver from "semver";
import { z } from "zod";
import { MarketError, npub, parsePublicKey } from "../marketplace/identity.ts";
import type { OfferView } from "../marketplace/market.ts";
import { riskOf } from "../marketplace/trust.ts";
import type { SourcedManifest } from "../orchestrator/lifecycle.ts";
import type { ApiContext } from "./methods.ts";
import { defineMethod, type MethodDefinition } from "./rpc/dispatch.ts";
import { RPC_CODES, RpcError } from "./rpc/errors.ts";

export const TrustView = z.object({
  score: z.number().meta({ description: "0 to 100, computed on this node from the operator's own network." }),
  level: z.enum(["yours", "trusted", "known", "unknown", "reported", "muted"]),
  reasons: z.array(z.string()).meta({ description: "Why, in words: `followed by 3 people you follow`, …" }),
});

const RelayView = z.object({
  url: z.string(),
  state: z.enum(["ok", "failing", "never-refreshed"]),
  lastAttemptAt: z.number().nullable(),
  lastSuccessAt: z.number().nullable(),
  learnt: z.number().meta({ description: "Events the last refresh kept that were new to this node." }),
  received: z.object({ messages: z.number(), bytes: z.number() }),
  refused: z.record(z.string(), z.object({ count: z.number(), example: z.string() })).meta({
    description:
      "What the relay sent that was refused, by reason (malformed JSON, bad signature, invalid event, changed release, …), with one example each.",
  }),
  error: z.string().nullable().meta({ description: "Why the last refresh stopped early, or could not run." }),
});

const OfferViewSchema = z.object({
  id: z.string(),
  address: z.string().meta({ description: "The app's identity: `32267:<publisher's hex key>:<id>`." }),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  version: z.string().meta({ description: "The highest version its publisher released (not deleted)." }),
  source: z.string().meta({ description: "`nostr:<npub>`: pass it to package.install to choose this app." }),
  publisher: z.string().meta({ description: "The publisher's npub." }),
  trust: TrustView,
  flags: z
    .array(z.string())
    .meta({ description: "What should worry the operator (reports by the network)." }),
  installedVersion: z
    .string()
    .nullable()
    .meta({ description: "Installed from this publisher: its version." }),
  updateAvailable: z.boolean(),
  otherSource: z.string().nullable().meta({
    description:
      "The same id is installed from another source (this one is another app, never an update of it).",
  }),
  bundle: z.object({ size: z.number(), sha256: z.string(), blake3: z.string(), urls: z.array(z.string()) }),
});

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
    trust: offer.trust,
    flags: offer.flags,
    installedVersion: same?.version ?? null,
    updateAvailable:
      same !== undefined &&
      semver.valid(same.version) !== null &&
      semver.gt(offer.release.version, same.version),
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
): Promise<SourcedManifest & { publisher: string }> {
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

export const MARKET_METHODS: MethodDefinition<ApiContext>[] = [
  defineMethod({
    name: "market.relays",
    summary: "The Nostr relays the marketplace learns from, and how their last refresh went.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.array(RelayView),
    handler: (_params, ctx) => ctx.market.relays(),
  }),
  defineMethod({
    name: "market.relays.add",
    summary: "Adds a relay (ws:// or wss://); none is configured by default.",
    access: "session",
    mutates: true,
    params: z.strictObject({ url: z.string().min(1).max(512) }),
    result: z.object({ added: z.boolean(), relays: z.array(RelayView) }),
    handler: ({ url }, ctx) => {
      const added = market("url", () => ctx.market.addRelay(url));
      return { added, relays: ctx.market.relays() };
    },
  }),
  defineMethod({
    name: "market.relays.remove",
    summary: "Removes a relay (what was learnt from it stays until forgotten).",
    access: "session",
    mutates: true,
    params: z.strictObject({ url: z.string().min(1).max(512) }),
    result: z.object({ removed: z.boolean(), relays: z.array(RelayView) }),
    handler: ({ url }, ctx) => {
      const removed = ctx.market.removeRelay(url);
      if (!removed) throw new RpcError(RPC_CODES.notFound, `no relay ${url}: see market.relays`);
      return { removed, relays: ctx.market.relays() };
    },
  }),
  defineMethod({
    name: "market.settings",
    summary:
      "The operator's own Nostr identity (trust is computed from it), the trust threshold and the NIP-85 provider.",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      identity: z
        .string()
        .nullable()
        .meta({ description: "The operator's npub; null: not set (every publisher is unknown)." }),
      threshold: z
        .number()
        .meta({ description: "Installs below this trust score need confirmRisk (default 50)." }),
      provider: z
        .string()
        .nullable()
        .meta({ description: "The NIP-85 provider whose ranks count (npub), if chosen." }),
    }),
    handler: (_params, ctx) => settingsView(ctx),
  }),
  defineMethod({
    name: "market.settings.set",
    summary: "Sets the operator's npub, the trust threshold or the NIP-85 provider (null clears one).",
    access: "session",
    mutates: true,
    params: z.strictObject({
      identity: z.string().max(200).nullable().optional(),
      threshold: z.number().int().min(0).max(100).optional(),
      provider: z.string().max(200).nullable().optional(),
    }),
    result: z.object({
      identity: z.string().nullable(),
      threshold: z.number(),
      provider: z.string().nullable(),
    }),
    handler: ({ identity, threshold, provider }, ctx) => {
      // Every value is checked before any is kept: a refused one changes nothing.
      const identityKey = market("identity", () => (identity ? parseKey(identity) : identity));
      const providerKey = market("provider", () => (provider ? parseKey(provider) : provider));
      if (identityKey !== undefined) ctx.market.setIdentity(identityKey ?? undefined);
      if (threshold !== undefined) ctx.market.setThreshold(threshold);
      if (providerKey !== undefined) ctx.market.setProvider(providerKey ?? undefined);
      return settingsView(ctx);
    },
  }),
  defineMethod({
    name: "market.refresh",
    summary: "Learns from the relays now; answers when done, with their status.",
    access: "session",
    mutates: true,
    params: z.strictObject({}),
    result: z.array(RelayView),
    handler: (_params, ctx) => ctx.market.refresh(),
  }),
  defineMethod({
    name: "market.list",
    summary:
      "The marketplace's apps, the most trusted first: each is its publisher's key plus its id (the same id by another key is another app), with trust and its reasons, flags, and the flags of installed marketplace apps (deleted or reported releases).",
    access: "session",
    mutates: false,
    params: z.strictObject({}),
    result: z.object({
      apps: z.array(OfferViewSchema),
      installed: z.array(
        z.object({ id: z.string(), version: z.string(), source: z.string(), flags: z.array(z.string()) }),
      ),
    }),
    handler: (_params, ctx) => ({
      apps: ctx.market.listing().map(offerView),
      installed: ctx.orchestrator.store
        .listApps()
        .filter((a) => a.source.startsWith("nostr:"))
        .map((a) => ({ id: a.id, version: a.version, source: a.source, flags: ctx.market.flagsOf(a) })),
    }),
  }),
];

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
