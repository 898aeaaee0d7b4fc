/**
 * Trust, computed on the node from the operator's own network as the relay holds it: a publisher
 * followed directly, at two hops, reported, muted, unknown — each score with its explanation.
 * A real relay; the operator's follows, mutes and reports are signed events published to it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { ENDORSEMENT, KINDS } from "../../src/marketplace/events.ts";
import { type DevKey, npub } from "../../src/marketplace/identity.ts";
import { Marketplace } from "../../src/marketplace/market.ts";
import { publish } from "../../src/marketplace/relay.ts";
import { buildPublication } from "../../src/marketplace/signing.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { devKey, sign } from "./support.ts";

const publicationOf = (key: DevKey, id: string) =>
  buildPublication(
    key,
    { id, name: id, description: "d", category: "other" },
    {
      version: "1.0.0",
      notes: "",
      bundle: { size: 10, sha256: "a".repeat(64), blake3: "b".repeat(64) },
      urls: ["http://127.0.0.1:1/b.tar"],
    },
    Date.now(),
  );

test("trust from the operator's network: followed directly, at two hops, reported, muted, unknown — each explained", async () => {
  const relay = await startDevRelay();
  const dir = mkdtempSync(join(tmpdir(), "archy-market-trust-"));
  const store = new Store(":memory:");
  const market = new Marketplace({
    store,
    dir,
    log: { info: () => {}, warn: () => {} },
    installed: () => store.listApps(),
  });
  try {
    const [operator, friendA, friendB, friendC, stranger] = [
      devKey(),
      devKey(),
      devKey(),
      devKey(),
      devKey(),
    ];
    const [direct, twoHops, reported, muted, unknown] = [devKey(), devKey(), devKey(), devKey(), devKey()];
    const keys = { direct, twoHops, reported, muted, unknown } as Record<string, DevKey>;
    const events = [
      sign(operator, {
        kind: KINDS.contacts,
        tags: [friendA, friendB, friendC, direct, reported].map((k) => ["p", k.pubkey]),
      }),
      sign(operator, { kind: KINDS.mutes, tags: [["p", muted.pubkey]] }),
      sign(friendA, { kind: KINDS.contacts, tags: [["p", twoHops.pubkey]] }),
      sign(friendB, {
        kind: KINDS.contacts,
        tags: [
          ["p", twoHops.pubkey],
          ["p", muted.pubkey],
        ],
      }),
      sign(friendC, { kind: KINDS.contacts, tags: [["p", twoHops.pubkey]] }),
      // Endorsed by someone in the network (NIP-32), and by a stranger (which counts for nothing).
      sign(friendA, {
        kind: KINDS.label,
        tags: [
          ["L", ENDORSEMENT.namespace],
          ["l", ENDORSEMENT.value, ENDORSEMENT.namespace],
          ["p", direct.pubkey],
        ],
      }),
      // Reported for malware by a friend; a stranger's report of the direct publisher counts for nothing.
      sign(friendB, { kind: KINDS.report, tags: [["p", reported.pubkey, "malware"]] }),
      sign(stranger, { kind: KINDS.report, tags: [["p", direct.pubkey, "spam"]] }),
      // A stranger following the unknown publisher lends it nothing.
      sign(stranger, { kind: KINDS.contacts, tags: [["p", unknown.pubkey]] }),
    ];
    for (const [name, key] of Object.entries(keys)) {
      const p = publicationOf(key, `${name.toLowerCase()}.app`);
      events.push(p.asset, p.release, p.app);
    }
    for (const event of events) assert.equal((await publish(relay.url, event)).ok, true);
    market.setIdentity(npub(operator.pubkey));
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    assert.equal(status?.error, null);
    const trust = Object.fromEntries(market.listing().map((o) => [o.app.id, o.trust]));
    assert.deepEqual(trust["direct.app"], {
      score: 90,
      level: "trusted",
      reasons: ["followed by you", "endorsed by 1 person in your network"],
    });
    assert.deepEqual(trust["twohops.app"], {
      score: 60,
      level: "trusted",
      reasons: ["followed by 3 people you follow"],
    });
    assert.deepEqual(trust["reported.app"], {
      score: 40,
      level: "reported",
      reasons: ["followed by you", "reported by 1 person in your network for malware"],
    });
    assert.deepEqual(trust["muted.app"], { score: 0, level: "muted", reasons: ["muted by you"] });
    assert.deepEqual(trust["unknown.app"], {
      score: 0,
      level: "unknown",
      reasons: ["nobody in your network follows them"],
    });
    assert.deepEqual(
      market.listing().map((o) => o.app.id),
      ["direct.app", "twohops.app", "reported.app", "muted.app", "unknown.app"],
      "the most trusted first",
    );
    // The reported app needs a confirmation naming the risk even though its publisher is followed.
    assert.deepEqual(market.offersOf("reported.app")[0]?.flags, [
      "reported by 1 person in your network for malware",
    ]);
  } finally {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without the operator's identity every publisher is unknown, and the reason says how to fix it", async () => {
  const relay = await startDevRelay();
  const dir = mkdtempSync(join(tmpdir(), "archy-market-trust-"));
  const store = new Store(":memory:");
  const market = new Marketplace({
    store,
    dir,
    log: { info: () => {}, warn: () => {} },
    installed: () => store.listApps(),
  });
  try {
    const p = publicationOf(devKey(), "some.app");
    for (const event of [p.asset, p.release, p.app]) await publish(relay.url, event);
    market.addRelay(relay.url);
    await market.refresh();
    assert.deepEqual(market.listing()[0]?.trust, {
      score: 0,
      level: "unknown",
      reasons: ["no trust is computed: set your own npub first (archy market identity NPUB)"],
    });
  } finally {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
