/**
 * How the API speaks of the Nostr marketplace (docs/marketplace.md): a publisher's trust, a relay's
 * state, an app a publisher offers. Browser-safe: zod only.
 */
import { z } from "zod";

export const TrustView = z.object({
  score: z.number().meta({ description: "0 to 100, computed on this node from the operator's own network." }),
  level: z.enum(["yours", "trusted", "known", "unknown", "reported", "muted"]),
  reasons: z.array(z.string()).meta({ description: "Why, in words: `followed by 3 people you follow`, …" }),
});

/** A marketplace publisher's NIP-05 handle (`name@domain`) and whether this node verified it. */
export const Nip05View = z
  .object({
    handle: z.string().meta({ description: "name@domain, as the publisher claims it." }),
    verified: z.boolean().meta({
      description:
        "Whether the domain's /.well-known/nostr.json names this publisher's key (checked at refresh, kept a while).",
    }),
    reason: z.string().meta({ description: "Why it is verified or not, in words." }),
  })
  .nullable()
  .meta({ description: "The publisher's NIP-05 handle, if they claim one." });

/** The peers a node fetches from (without their tokens) and the grants of who may fetch from it. */
export const PeersView = z.object({
  peers: z.array(z.object({ url: z.string(), addedAt: z.number() })),
  grants: z.array(z.object({ name: z.string(), grantedAt: z.number() })),
});

export const RelayView = z.object({
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

export const OfferViewSchema = z.object({
  id: z.string(),
  address: z.string().meta({ description: "The app's identity: `32267:<publisher's hex key>:<id>`." }),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  version: z.string().meta({ description: "The highest version its publisher released (not deleted)." }),
  source: z.string().meta({ description: "`nostr:<npub>`: pass it to package.install to choose this app." }),
  publisher: z.string().meta({ description: "The publisher's npub." }),
  nip05: Nip05View,
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
