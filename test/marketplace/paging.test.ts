/**
 * Discovery pages through a relay's history: a real relay (archy dev relay's, @nostr-relay/core)
 * capping every answer at 100 events still yields every one of 1,000 apps, and the paging is
 * bounded in pages and events.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { KINDS, PLATFORM, type SignedEvent } from "../../src/marketplace/events.ts";
import { Marketplace } from "../../src/marketplace/market.ts";
import { publish, query, queryPaged } from "../../src/marketplace/relay.ts";
import { buildPublication } from "../../src/marketplace/signing.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { devKey } from "./support.ts";

const APPS = 1000;
const CAP = 100;
const start = Math.floor(Date.now() / 1000) - 10 * APPS;

function publications(count: number, secondOf: (i: number) => number, prefix: string): SignedEvent[] {
  const keys = Array.from({ length: 10 }, () => devKey());
  return Array.from({ length: count }, (_, i) => {
    const key = keys[i % keys.length] as (typeof keys)[number];
    const id = `${prefix}${i % keys.length}.app-${i}`;
    const p = buildPublication(
      key,
      { id, name: `App ${i}`, description: "paged", category: "other" },
      {
        version: "1.0.0",
        notes: "",
        bundle: { size: 10, sha256: "a".repeat(64), blake3: "b".repeat(64) },
        urls: ["http://127.0.0.1:1/b.tar"],
      },
      secondOf(i) * 1000,
    );
    return [p.asset, p.release, p.app];
  }).flat();
}

let relay: DevRelay;
before(async () => {
  relay = await startDevRelay({ maxLimit: CAP });
  // Apps published over time (one a second), as a relay's history is.
  const sent = await publish(
    relay.url,
    publications(APPS, (i) => start + i, "paged"),
    120_000,
  );
  assert.equal(sent.ok, true, sent.message);
});
after(() => relay.close());

test("the relay caps each answer: one query reads only a page of the history", async () => {
  const one = await query(relay.url, [{ kinds: [KINDS.app], "#f": [PLATFORM], limit: 5000 }]);
  assert.equal(one.events.length, CAP, "the relay library's cap, whatever is asked");
});

test("1,000 apps on a relay capping each answer at 100 events are all discovered, paging back with until", async () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-market-paging-"));
  const store = new Store(":memory:");
  const market = new Marketplace({
    store,
    dir,
    log: { info: () => {}, warn: () => {} },
    installed: () => [],
  });
  try {
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    assert.equal(status?.error, null, `the refresh stopped: ${status?.error}`);
    assert.equal(market.listing().length, APPS, "every app published is offered");
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("paging is bounded: pages, and events over all pages, each stop it with the reason", async () => {
  const filter = { kinds: [KINDS.app], "#f": [PLATFORM], limit: 5000 };
  const all = await queryPaged(relay.url, filter);
  assert.equal(all.events.length, APPS);
  assert.equal(all.complete, true);
  // Each page reads again the events of the second the page before ended on: one here.
  const pagesNeeded = Math.ceil(APPS / (CAP - 1)) + 1;
  assert.ok(all.pages <= pagesNeeded + 1, `${all.pages} pages for ${APPS} events by ${CAP}`);
  assert.equal(new Set(all.events.map((e) => e.id)).size, APPS, "each event taken once");

  const fewPages = await queryPaged(relay.url, filter, undefined, 3);
  assert.equal(fewPages.pages, 3);
  assert.ok(fewPages.events.length <= 3 * CAP);
  assert.equal(fewPages.complete, false);
  assert.match(fewPages.error ?? "", /filled 3 pages, as many as one query reads/);

  const fewEvents = await queryPaged(relay.url, filter, {
    maxEvents: 250,
    maxBytes: 16 << 20,
    timeoutMs: 15_000,
  });
  assert.ok(fewEvents.events.length <= 250, `${fewEvents.events.length} events read`);
  assert.match(fewEvents.error ?? "", /sent 250 events, as many as one query reads/);
});

test("more than a page of events in one same second ends the paging instead of asking for it again and again", async () => {
  const crowded = await startDevRelay({ maxLimit: CAP });
  try {
    const second = Math.floor(Date.now() / 1000) - 5;
    const sent = await publish(
      crowded.url,
      publications(3 * CAP, () => second, "crowd"),
      120_000,
    );
    assert.equal(sent.ok, true, sent.message);
    const read = await queryPaged(crowded.url, { kinds: [KINDS.app], "#f": [PLATFORM], limit: 5000 });
    assert.equal(read.complete, true, `stopped: ${read.error}`);
    assert.ok(read.events.length >= CAP, `${read.events.length} events read`);
    assert.ok(read.pages <= 3 * CAP, `${read.pages} pages`);
  } finally {
    await crowded.close();
  }
});
