/**
 * What a relay can do to a node, each refused with a clear reason and nothing kept: forged events,
 * malformed JSON, huge messages, floods of forgeries and floods of junk from unknown keys. The
 * hostile relays here are fault injection (support.ts); the honest one is the real relay.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { schnorr } from "@noble/curves/secp256k1";
import { getEventHash } from "nostr-tools/pure";
import { readAppTree } from "../../src/manifest/app-files.ts";
import { startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { BUNDLE_MIME, KINDS, PLATFORM, type SignedEvent } from "../../src/marketplace/events.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { Marketplace } from "../../src/marketplace/market.ts";
import { MAX_MESSAGE_BYTES, MAX_REFUSED, publish } from "../../src/marketplace/relay.ts";
import { buildPublication } from "../../src/marketplace/signing.ts";
import { Store } from "../../src/orchestrator/store.ts";
import { appDir, devKey, hostileRelay, publishDir, sign } from "./support.ts";

function node(options: Partial<ConstructorParameters<typeof Marketplace>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "archy-market-attacks-"));
  const store = new Store(":memory:");
  const market = new Marketplace({
    store,
    dir,
    log: { info: () => {}, warn: () => {} },
    installed: () => store.listApps(),
    ...options,
  });
  return { store, market, close: () => rmSync(dir, { recursive: true, force: true }) };
}

const publication = (key = devKey(), id = "alice.notes", version = "1.0.0") =>
  buildPublication(
    key,
    { id, name: id, description: "d", category: "other" },
    {
      version,
      notes: "",
      bundle: { size: 10, sha256: "a".repeat(64), blake3: "b".repeat(64) },
      urls: ["http://127.0.0.1:1/b.tar"],
    },
    Date.now(),
  );

const eventMessage = (sub: string, event: unknown) => JSON.stringify(["EVENT", sub, event]);

test("an event with a bad signature is refused with its reason; the genuine events beside it are kept", async () => {
  const genuine = publication();
  const forged = { ...JSON.parse(JSON.stringify(genuine.app)), content: "changed after signing" };
  const relay = await hostileRelay((sub, socket) => {
    socket.send(eventMessage(sub, forged));
    for (const event of [genuine.asset, genuine.release]) socket.send(eventMessage(sub, event));
  });
  const { store, market, close } = node();
  try {
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    assert.ok((status?.refused["bad signature"]?.count ?? 0) >= 1, JSON.stringify(status?.refused));
    assert.match(status?.refused["bad signature"]?.example ?? "", /bad id or signature/);
    assert.equal(store.marketEvents([KINDS.app]).length, 0, "the forged app is kept nowhere");
    assert.equal(
      store.marketEvents([KINDS.release, KINDS.asset]).length,
      2,
      "the genuine release and asset are kept",
    );
    assert.deepEqual(market.listing(), [], "no app is offered without its genuine app event");
  } finally {
    await relay.close();
    close();
  }
});

test("malformed JSON, non-events and oversized events are refused by reason; the relay is read on", async () => {
  const genuine = publication();
  const big = sign(devKey(), {
    kind: KINDS.app,
    tags: [
      ["d", "big.app"],
      ["f", PLATFORM],
    ],
    content: "x".repeat(40_000),
  });
  const relay = await hostileRelay((sub, socket) => {
    socket.send(`["EVENT", "${sub}", {"id": `);
    socket.send("not json at all");
    socket.send(JSON.stringify({ hello: "relay" }));
    socket.send(eventMessage(sub, { id: "zz", kind: "app" }));
    socket.send(eventMessage(sub, big));
    for (const event of [genuine.asset, genuine.release, genuine.app]) socket.send(eventMessage(sub, event));
  });
  const { store, market, close } = node();
  try {
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    assert.ok((status?.refused["malformed JSON"]?.count ?? 0) >= 2, JSON.stringify(status?.refused));
    assert.ok((status?.refused["not a relay message"]?.count ?? 0) >= 1);
    assert.match(
      status?.refused["invalid event"]?.example ?? "",
      /not a Nostr event|over the 16384 a node takes/,
    );
    assert.equal(status?.error, null, "the relay was read to its end");
    assert.deepEqual(
      market.listing().map((o) => o.app.id),
      ["alice.notes"],
    );
    assert.equal(store.marketEvents([KINDS.app]).length, 1, "the oversized app event is not kept");
  } finally {
    await relay.close();
    close();
  }
});

test("a message over the size cap closes the connection with the reason; what came before is kept", async () => {
  const genuine = publication();
  const relay = await hostileRelay((sub, socket) => {
    for (const event of [genuine.asset, genuine.release, genuine.app]) socket.send(eventMessage(sub, event));
    socket.send(eventMessage(sub, { content: "x".repeat(MAX_MESSAGE_BYTES + 10) }));
  });
  const { market, close } = node();
  try {
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    assert.match(
      status?.error ?? "",
      new RegExp(`a message over ${MAX_MESSAGE_BYTES} bytes: the connection was closed`),
    );
    assert.equal(status?.state, "failing");
    assert.deepEqual(
      market.listing().map((o) => o.app.id),
      ["alice.notes"],
    );
  } finally {
    await relay.close();
    close();
  }
});

test("a flood of 10,000 forged events costs at most MAX_REFUSED signature checks: the relay is not read further", async () => {
  const template = JSON.parse(JSON.stringify(publication().app)) as SignedEvent;
  let sent = 0;
  const relay = await hostileRelay(async (sub, socket) => {
    for (let i = 0; i < 10_000 && socket.readyState === socket.OPEN; i++) {
      socket.send(eventMessage(sub, { ...template, content: `junk ${i}` }));
      sent += 1;
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  });
  const { store, market, close } = node();
  try {
    market.addRelay(relay.url);
    const [status] = await market.refresh();
    const refused = Object.values(status?.refused ?? {}).reduce((n, r) => n + r.count, 0);
    assert.ok(refused <= MAX_REFUSED, `${refused} refused, at most ${MAX_REFUSED} checked`);
    assert.match(
      status?.error ?? "",
      new RegExp(`sent ${MAX_REFUSED} messages that were refused: it was not read further`),
    );
    assert.equal(store.marketEventCount(), 0);
    assert.ok(sent > 0);
  } finally {
    await relay.close();
    close();
  }
});

test("spam-proof: 10,000 junk apps from 100 unknown keys cost bounded events and never surface above an app the operator's network trusts", async () => {
  const relay = await startDevRelay();
  const operator = devKey();
  const trusted = devKey();
  const genuine = publication(trusted, "trusted.app");
  for (const event of [
    sign(operator, { kind: KINDS.contacts, tags: [["p", trusted.pubkey]] }),
    genuine.asset,
    genuine.release,
    genuine.app,
  ])
    assert.equal((await publish(relay.url, event)).ok, true);
  // Junk: complete publications (app, release, asset) signed for real by 100 unknown keys, 10,200
  // events in all, with noble directly (nostr-tools derives the public key again for every event).
  const junk: SignedEvent[] = [];
  const signWith = (
    secret: Uint8Array,
    pubkey: string,
    template: Omit<SignedEvent, "id" | "sig" | "pubkey">,
  ) => {
    const unsigned = { ...template, pubkey };
    const id = getEventHash(unsigned);
    return { ...unsigned, id, sig: Buffer.from(schnorr.sign(id, secret)).toString("hex") };
  };
  const at = Math.floor(Date.now() / 1000) + 60;
  for (let k = 0; k < 100; k++) {
    const secret = schnorr.utils.randomPrivateKey();
    const pubkey = Buffer.from(schnorr.getPublicKey(secret)).toString("hex");
    for (let i = 0; i < 34; i++) {
      const id = `spam${k}.app${i}`;
      const asset = signWith(secret, pubkey, {
        kind: KINDS.asset,
        created_at: at,
        content: "",
        tags: [
          ["i", id],
          ["version", "9.9.9"],
          ["m", BUNDLE_MIME],
          ["x", "a".repeat(64)],
          ["blake3", "b".repeat(64)],
          ["size", "10"],
          ["url", "http://127.0.0.1:1/x"],
          ["f", PLATFORM],
        ],
      });
      const release = signWith(secret, pubkey, {
        kind: KINDS.release,
        created_at: at,
        content: "",
        tags: [
          ["d", `${id}@9.9.9`],
          ["i", id],
          ["version", "9.9.9"],
          ["a", `${KINDS.app}:${pubkey}:${id}`],
          ["e", asset.id],
          ["f", PLATFORM],
        ],
      });
      const app = signWith(secret, pubkey, {
        kind: KINDS.app,
        created_at: at,
        content: "junk",
        tags: [
          ["d", id],
          ["name", "AAA free money"],
          ["f", PLATFORM],
        ],
      });
      junk.push(asset, release, app);
    }
  }
  // The flood answers the open query (no authors) only, as a relay full of junk would.
  const flood = await hostileRelay((sub, socket, filters) => {
    if (filters.some((f) => f.authors)) return;
    for (const event of junk) socket.send(eventMessage(sub, event));
  });
  const strangers = 300;
  const { store, market, close } = node({
    limits: { maxEvents: 1000, maxBytes: 16 * 1024 * 1024, timeoutMs: 60_000 },
    strangerEvents: strangers,
  });
  try {
    market.setIdentity(npub(operator.pubkey));
    market.addRelay(relay.url);
    market.addRelay(flood.url);
    const statuses = await market.refresh();
    const floodStatus = statuses.find((s) => s.url.startsWith(flood.url));
    assert.match(floodStatus?.error ?? "", /sent 1000 events, as many as one query reads/);
    const kept = store.marketEventCount();
    assert.ok(
      kept <= strangers + 4,
      `${kept} events kept: at most ${strangers} of strangers plus the network's`,
    );
    const listing = market.listing();
    assert.equal(listing[0]?.app.id, "trusted.app", "the trusted app comes first");
    assert.equal(listing[0]?.trust.level, "trusted");
    assert.ok(listing.length > 1, "junk apps are offered too");
    assert.ok(listing.slice(1).every((o) => o.trust.level === "unknown" && o.trust.score === 0));
  } finally {
    await flood.close();
    await relay.close();
    close();
  }
});

test("verified at use: a file of an installed marketplace app's package changed on disk is refused, and the package is unpacked again from the verified bundle", async () => {
  const relay = await startDevRelay({ bundlesDir: mkdtempSync(join(tmpdir(), "archy-market-mirror-")) });
  const { market, close } = node();
  const base = mkdtempSync(join(tmpdir(), "archy-market-apps-"));
  try {
    const key = devKey();
    const report = await publishDir(key, appDir(base, "alice.notes", "1.0.0"), relay);
    assert.deepEqual(
      report.relays.map((r) => r.ok),
      [true],
    );
    market.addRelay(relay.url);
    await market.refresh();
    const offer = market.offersOf("alice.notes")[0];
    assert.ok(offer);
    const prepared = await market.prepare(offer);
    const app = { id: "alice.notes", version: "1.0.0", source: prepared.source };
    const pkg = market.packageOf(app);
    assert.ok(pkg?.verifyCopy, "the package checks every copy");
    assert.equal(
      pkg.verifyCopy("files/index.html", await readAppTree(pkg.dir, "files/index.html")),
      undefined,
    );
    writeFileSync(join(pkg.dir, "files", "index.html"), "<h1>changed on disk</h1>\n");
    writeFileSync(join(pkg.dir, "files", "extra.sh"), "#!/bin/sh\n");
    const refused = pkg.verifyCopy("files/index.html", await readAppTree(pkg.dir, "files/index.html"));
    assert.match(
      refused ?? "",
      /is not its signed bundle: files\/index\.html does not match its signed length and hashes.*refused/,
    );
    const again = await waitFor(() => market.packageOf(app));
    assert.equal(
      readFileSync(join(again.dir, "files", "index.html"), "utf8"),
      "<h1>alice.notes 1.0.0</h1>\n",
      "unpacked again",
    );
    const added = again.verifyCopy?.(
      "files",
      await readAppTree(again.dir, "files").catch(() => ({ entries: [] })),
    );
    assert.equal(added, undefined, "the unsigned file added is gone with the new unpacking");
  } finally {
    await relay.close();
    rmSync(base, { recursive: true, force: true });
    close();
  }
});

async function waitFor<T>(look: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = look();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the package was not unpacked again within 5 s");
}
