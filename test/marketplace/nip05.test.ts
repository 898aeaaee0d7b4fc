/**
 * NIP-05: a publisher's handle is shown verified only once its domain's nostr.json names that very
 * key. The domains are local HTTPS servers under a test certificate authority (never the internet):
 * the node's requests reach them through a connector that sends every name to loopback and trusts
 * only that authority.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Agent } from "undici";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { Marketplace } from "../../src/marketplace/market.ts";
import { UNVERIFIED_TTL_MS, VERIFIED_TTL_MS } from "../../src/marketplace/nip05.ts";
import { publish } from "../../src/marketplace/relay.ts";
import { buildPublication } from "../../src/marketplace/signing.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { devKey, type Nip05Domains, nip05Domains } from "./support.ts";

const alice = { ...devKey(), nip05: "alice@example.test" };
const impostor = { ...devKey(), nip05: "alice@example.test" };
const redirected = { ...devKey(), nip05: "carol@moved.test" };
const unnamed = { ...devKey(), nip05: "dave@example.test" };

let relay: DevRelay;
let domains: Nip05Domains;
let dispatcher: Agent;
let asked: string[];

before(async () => {
  const now = Date.now();
  domains = await nip05Domains(["example.test", "moved.test"], (request, response) => {
    if (request.headers.host === "moved.test")
      return response.writeHead(302, { location: "https://example.test/.well-known/nostr.json" }).end();
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ names: { alice: alice.pubkey } }));
  });
  ({ dispatcher, asked } = domains);
  relay = await startDevRelay();
  for (const key of [alice, impostor, redirected, unnamed]) {
    const id = `${key.pubkey.slice(0, 8)}.app`.replace(/^[0-9]/, "a");
    const p = buildPublication(
      key,
      { id, name: id, description: "d", category: "other" },
      {
        version: "1.0.0",
        notes: "",
        bundle: { size: 10, sha256: "a".repeat(64), blake3: "b".repeat(64) },
        urls: ["http://127.0.0.1:1/b.tar"],
      },
      now,
    );
    assert.equal((await publish(relay.url, [p.asset, p.release, p.app])).ok, true);
  }
});

after(async () => {
  await relay.close();
  await domains.close();
});

test("a handle is verified only when its domain names that very key; another key's claim, a missing name and a redirect are not", async () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-market-nip05-"));
  const store = new Store(":memory:");
  let now = Date.now();
  const market = new Marketplace({
    store,
    dir,
    log: { info: () => {}, warn: () => {} },
    installed: () => [],
    nip05Dispatcher: dispatcher,
    clock: () => now,
  });
  const handleOf = (pubkey: string) => market.listing().find((o) => o.pubkey === pubkey)?.nip05;
  try {
    market.addRelay(relay.url);
    await market.refresh();
    assert.deepEqual(handleOf(alice.pubkey), {
      handle: "alice@example.test",
      verified: true,
      reason: "example.test names this key alice",
      checkedAt: now,
    });
    assert.equal(handleOf(impostor.pubkey)?.verified, false, "the same handle claimed by another key");
    assert.match(handleOf(impostor.pubkey)?.reason ?? "", /gives alice another key/);
    assert.equal(handleOf(unnamed.pubkey)?.verified, false);
    assert.match(handleOf(unnamed.pubkey)?.reason ?? "", /does not name dave/);
    assert.equal(handleOf(redirected.pubkey)?.verified, false);
    assert.match(handleOf(redirected.pubkey)?.reason ?? "", /HTTP 302 \(a redirect, which NIP-05 forbids\)/);
    assert.ok(asked.includes("example.test/.well-known/nostr.json?name=alice"), asked.join(", "));
    assert.equal(
      asked.filter((a) => a.startsWith("example.test")).length,
      3,
      "one question per publisher (alice, the impostor, dave), and no redirect followed",
    );

    const count = asked.length;
    await market.refresh();
    assert.equal(asked.length, count, "checks are kept: a refresh within their time asks nothing");

    now += UNVERIFIED_TTL_MS;
    await market.refresh();
    assert.equal(
      asked.length,
      count + 3,
      "unverified handles are asked again after an hour, a verified one not",
    );
    now += VERIFIED_TTL_MS;
    await market.refresh();
    assert.equal(asked.length, count + 7, "all of them after a day");
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
