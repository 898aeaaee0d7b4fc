/**
 * A node and the marketplace, through the daemon's API (Podman never answers here: what counts is
 * what the node offers, verifies and records). A real relay (`archy dev relay`'s) on loopback holds
 * what developers publish with the same code as `archy app publish`; mirrors are that relay's
 * bundle store or small HTTP servers the tests control.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { KINDS } from "../../src/marketplace/events.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { publish } from "../../src/marketplace/relay.ts";
import { buildPublication } from "../../src/marketplace/signing.ts";
import {
  type Caller,
  fails,
  keepData,
  ok,
  settle,
  startDaemon,
  storeSnapshot,
  type TestDaemon,
} from "../api/support.ts";
import { appDir, devKey, publishDir, sign } from "./support.ts";

type Offer = {
  id: string;
  version: string;
  source: string;
  publisher: string;
  trust: { score: number; level: string; reasons: string[] };
  flags: string[];
  installedVersion: string | null;
  updateAvailable: boolean;
  otherSource: string | null;
};
type Listing = { apps: Offer[]; installed: Array<{ id: string; flags: string[] }> };

describe("a node discovers, verifies and installs marketplace apps", () => {
  let base: string;
  let relay: DevRelay;
  let daemon: TestDaemon;
  let caller: Caller;
  const call = (method: string, params: unknown = {}) => ok(daemon.port, method, params, caller);
  const refresh = () =>
    call("market.refresh") as Promise<
      Array<{ error: string | null; refused: Record<string, { count: number }> }>
    >;
  const listing = async () => (await call("market.list")) as Listing;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "archy-market-"));
    relay = await startDevRelay({ bundlesDir: join(base, "mirror") });
    daemon = await startDaemon({ apps: {} });
    caller = { bearer: readFileSync(daemon.tokenFile, "utf8").trim() };
    await call("market.relays.add", { url: relay.url });
  });

  after(async () => {
    await daemon?.close();
    await relay?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("a published app is listed with its publisher and trust unknown; installing needs the risk confirmed, then records the signed manifest", async () => {
    const alice = devKey();
    const report = await publishDir(alice, appDir(base, "alice.notes", "1.0.0"), relay);
    assert.deepEqual(
      report.relays.map((r) => r.ok),
      [true],
    );
    const statuses = await refresh();
    assert.equal(statuses[0]?.error, null, JSON.stringify(statuses));
    const offer = (await listing()).apps.find((a) => a.id === "alice.notes");
    assert.ok(offer, "the app is offered");
    assert.equal(offer.version, "1.0.0");
    assert.equal(offer.publisher, npub(alice.pubkey));
    assert.equal(offer.source, `nostr:${npub(alice.pubkey)}`);
    assert.equal(offer.trust.level, "unknown");
    const available = (await call("package.available")) as Array<{
      id: string;
      publisher: string | null;
      trust: unknown;
    }>;
    assert.equal(available.find((a) => a.id === "alice.notes")?.publisher, npub(alice.pubkey));

    const before = storeSnapshot(daemon.storePath).apps;
    const refused = await fails(
      daemon.port,
      "package.install",
      { id: "alice.notes" },
      caller,
      RPC_CODES.trustConfirmationRequired,
    );
    assert.match(
      refused.message,
      /published by npub1.*trust 0\/100 \(unknown: .*\).*below your threshold of 50/,
    );
    assert.deepEqual(
      storeSnapshot(daemon.storePath).apps,
      before,
      "nothing is installed without the confirmation",
    );

    await call("package.install", { id: "alice.notes", confirmRisk: true });
    const row = daemon.orchestrator.store.getApp("alice.notes");
    assert.equal(row?.source, `nostr:${npub(alice.pubkey)}`);
    assert.equal(row?.version, "1.0.0");
    assert.match(row?.manifestText ?? "", /id: alice\.notes/);
  });

  test("updates come from the same publisher only; an older version published again later is not a way back (rollback)", async () => {
    const bob = devKey();
    await publishDir(bob, appDir(base, "bob.wiki", "1.0.0"), relay);
    await refresh();
    await call("package.install", { id: "bob.wiki", confirmRisk: true });
    settle(daemon, "bob.wiki");
    await publishDir(bob, appDir(base, "bob.wiki", "1.1.0"), relay);
    await refresh();
    const offered = (await listing()).apps.find((a) => a.id === "bob.wiki");
    assert.equal(offered?.version, "1.1.0");
    assert.equal(offered?.updateAvailable, true);
    await call("package.update", { id: "bob.wiki" });
    assert.equal(daemon.orchestrator.store.getApp("bob.wiki")?.version, "1.1.0");
    settle(daemon, "bob.wiki");

    // Bob's key publishes 1.0.0 again, later, with another bundle, and points his app at it; and 0.9.0.
    const old = buildPublication(
      bob,
      { id: "bob.wiki", name: "Wiki", description: "again", category: "other" },
      {
        version: "1.0.0",
        notes: "",
        bundle: { size: 3, sha256: "a".repeat(64), blake3: "b".repeat(64) },
        urls: [relay.bundlesUrl],
      },
      Date.now() + 5_000,
    );
    const older = buildPublication(
      bob,
      { id: "bob.wiki", name: "Wiki", description: "older", category: "other" },
      {
        version: "0.9.0",
        notes: "",
        bundle: { size: 3, sha256: "c".repeat(64), blake3: "d".repeat(64) },
        urls: [relay.bundlesUrl],
      },
      Date.now() + 6_000,
    );
    for (const event of [old.asset, old.release, old.app, older.asset, older.release, older.app])
      assert.equal((await publish(relay.url, event)).ok, true);
    const [status] = await refresh();
    assert.equal(status?.refused["changed release"]?.count, 1, "the changed 1.0.0 is refused by reason");
    const after = (await listing()).apps.find((a) => a.id === "bob.wiki");
    assert.equal(after?.version, "1.1.0", "the highest version stays offered");
    assert.equal(after?.updateAvailable, false);
    const refused = await fails(
      daemon.port,
      "package.update",
      { id: "bob.wiki" },
      caller,
      RPC_CODES.notNewer,
    );
    assert.match(refused.message, /not newer than the installed 1\.1\.0/);
    assert.equal(daemon.orchestrator.store.getApp("bob.wiki")?.version, "1.1.0");
  });

  test("the same id published by another key is another app: listed beside, never an update, never a replacement", async () => {
    const mallory = devKey();
    await publishDir(mallory, appDir(base, "bob.wiki", "9.0.0"), relay);
    await refresh();
    const offers = (await listing()).apps.filter((a) => a.id === "bob.wiki");
    assert.equal(offers.length, 2, "both are listed, each with its publisher");
    const hers = offers.find((o) => o.publisher === npub(mallory.pubkey));
    assert.equal(hers?.version, "9.0.0");
    assert.equal(hers?.updateAvailable, false, "never an update of the installed app");
    assert.match(hers?.otherSource ?? "", /^nostr:npub1/);
    const before = storeSnapshot(daemon.storePath).apps;
    await fails(daemon.port, "package.update", { id: "bob.wiki" }, caller, RPC_CODES.notNewer);
    const other = await fails(
      daemon.port,
      "package.install",
      { id: "bob.wiki", source: hers?.source, confirmRisk: true },
      caller,
      RPC_CODES.otherSource,
    );
    assert.match(
      other.message,
      /is another app \(another publisher\): it never replaces or updates the installed one/,
    );
    const ambiguous = await fails(
      daemon.port,
      "package.install",
      { id: "bob.wiki", confirmRisk: true },
      caller,
      RPC_CODES.invalidParams,
    );
    assert.match(ambiguous.message, /2 publishers offer an app bob\.wiki/);
    assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing changed");
  });

  test("an app's data kept at its uninstall is listed with its publisher and purged from its release; when two publishers offer the id, the purge says it cannot tell which", async () => {
    const keep = (id: string) => keepData(daemon.dataDir, id);
    const frank = devKey();
    await publishDir(frank, appDir(base, "frank.diary", "1.0.0"), relay);
    await refresh();
    keep("frank.diary");
    const kept = (await call("package.kept")) as Array<{
      id: string;
      name: string | null;
      source: string | null;
    }>;
    assert.deepEqual(
      kept.find((k) => k.id === "frank.diary"),
      {
        id: "frank.diary",
        kept: [join(daemon.dataDir, "apps", "frank.diary")],
        name: "App frank.diary",
        source: `nostr:${npub(frank.pubkey)}`,
      },
    );
    const accepted = (await call("package.uninstall", { id: "frank.diary", purge: true })) as {
      kind: string;
    };
    assert.equal(accepted.kind, "purge");
    assert.equal(daemon.orchestrator.store.getApp("frank.diary")?.source, `nostr:${npub(frank.pubkey)}`);

    await publishDir(devKey(), appDir(base, "grace.blog", "1.0.0"), relay);
    await publishDir(devKey(), appDir(base, "grace.blog", "2.0.0"), relay);
    await refresh();
    keep("grace.blog");
    const before = storeSnapshot(daemon.storePath).apps;
    const refused = await fails(
      daemon.port,
      "package.uninstall",
      { id: "grace.blog", purge: true },
      caller,
      RPC_CODES.notFound,
    );
    assert.match(
      refused.message,
      /grace\.blog is not installed and 2 publishers offer an app grace\.blog \(different apps\), so which one it was cannot be told; its kept data is in .*grace\.blog: delete it by hand$/,
    );
    assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing changed");
  });

  test("a lying mirror's bytes are refused (SHA-256 differs from the signed one); an honest mirror after it is read, and a bundle whose manifest is not the signed release is refused", async () => {
    const carol = devKey();
    const report = await publishDir(carol, appDir(base, "carol.blog", "1.0.0"), relay);
    const good = report.bundle.urls[0] as string;
    const liar = await serveBytes(() => Buffer.alloc(report.bundle.size, 0x41));
    try {
      const lying = buildPublication(
        carol,
        { id: "carol.blog", name: "Blog", description: "d", category: "other" },
        { version: "1.0.1", notes: "", bundle: report.bundle, urls: [liar.url] },
        Date.now(),
      );
      for (const event of [lying.asset, lying.release, lying.app]) await publish(relay.url, event);
      await refresh();
      const before = storeSnapshot(daemon.storePath).apps;
      const refused = await fails(
        daemon.port,
        "package.install",
        { id: "carol.blog", confirmRisk: true },
        caller,
        RPC_CODES.verificationFailed,
      );
      assert.match(
        refused.message,
        /no peer or mirror of carol\.blog 1\.0\.1 served the signed bundle: .*SHA-256 [0-9a-f]{64} where [0-9a-f]{64} is signed.*nothing was installed/,
      );
      assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing is installed");

      const both = buildPublication(
        carol,
        { id: "carol.blog", name: "Blog", description: "d", category: "other" },
        { version: "1.0.2", notes: "", bundle: report.bundle, urls: [liar.url, good] },
        Date.now(),
      );
      for (const event of [both.asset, both.release, both.app]) await publish(relay.url, event);
      await refresh();
      // The bundle's manifest says 1.0.0, the release 1.0.2: the honest bytes, but not this release's app.
      const mismatch = await fails(
        daemon.port,
        "package.install",
        { id: "carol.blog", confirmRisk: true },
        caller,
        RPC_CODES.verificationFailed,
      );
      assert.match(
        mismatch.message,
        /the bundle's manifest says carol\.blog 1\.0\.0 where its signed release says carol\.blog 1\.0\.2: refused/,
      );
      assert.ok(liar.requests() >= 2, "the lying mirror was asked first each time");
    } finally {
      await liar.close();
    }
  });

  test("invariant: a release's mirrors never make the node reach its own or its LAN's services (request forgery); the relay's host stays usable", async () => {
    const frank = devKey();
    const report = await publishDir(frank, appDir(base, "frank.notes", "1.0.0"), relay);
    const internal = await serveBytes(() => Buffer.from("an internal service's answer"));
    try {
      const port = new URL(internal.url).port;
      const forging = buildPublication(
        frank,
        { id: "frank.notes", name: "Notes", description: "d", category: "other" },
        {
          version: "1.0.1",
          notes: "",
          bundle: report.bundle,
          // Loopback by another name, another loopback address, a cloud metadata address.
          urls: [
            `http://localhost:${port}/b.tar`,
            `http://127.0.0.2:${port}/b.tar`,
            "http://169.254.169.254/b.tar",
          ],
        },
        Date.now(),
      );
      for (const event of [forging.asset, forging.release, forging.app]) await publish(relay.url, event);
      await refresh();
      const before = storeSnapshot(daemon.storePath).apps;
      const refused = await fails(
        daemon.port,
        "package.install",
        { id: "frank.notes", confirmRisk: true },
        caller,
        RPC_CODES.verificationFailed,
      );
      assert.match(refused.message, /localhost resolves to no public address/);
      assert.match(refused.message, /127\.0\.0\.2 is not a public address/);
      assert.match(refused.message, /169\.254\.169\.254 is not a public address/);
      assert.equal(internal.requests(), 0, "no request reached the internal service");
      assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing is installed");
    } finally {
      await internal.close();
    }
  });

  test("a release pointing at a 10 GB bundle is refused before anything is downloaded (byte cap); a mirror sending more than signed is cut off", async () => {
    const dave = devKey();
    const endless = await serveBytes(() => Buffer.alloc(1024 * 1024, 0x42), { endless: true });
    try {
      const huge = buildPublication(
        dave,
        { id: "dave.huge", name: "Huge", description: "d", category: "other" },
        {
          version: "1.0.0",
          notes: "",
          bundle: { size: 10 * 1024 ** 3, sha256: "e".repeat(64), blake3: "f".repeat(64) },
          urls: [endless.url],
        },
        Date.now(),
      );
      const small = buildPublication(
        dave,
        { id: "dave.small", name: "Small", description: "d", category: "other" },
        {
          version: "1.0.0",
          notes: "",
          bundle: { size: 4096, sha256: "e".repeat(64), blake3: "f".repeat(64) },
          urls: [endless.url],
        },
        Date.now(),
      );
      for (const event of [huge.asset, huge.release, huge.app, small.asset, small.release, small.app])
        await publish(relay.url, event);
      await refresh();
      const before = storeSnapshot(daemon.storePath).apps;
      const refused = await fails(
        daemon.port,
        "package.install",
        { id: "dave.huge", confirmRisk: true },
        caller,
        RPC_CODES.verificationFailed,
      );
      assert.match(
        refused.message,
        /signs a bundle of 10737418240 bytes, over the 33554432 a node downloads/,
      );
      assert.equal(endless.requests(), 0, "nothing was downloaded");
      const cut = await fails(
        daemon.port,
        "package.install",
        { id: "dave.small", confirmRisk: true },
        caller,
        RPC_CODES.verificationFailed,
      );
      assert.match(cut.message, /the mirror sent more than the 4096 signed bytes/);
      assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing is installed");
    } finally {
      await endless.close();
    }
  });

  test("a release its publisher deletes (NIP-09), or that the operator's network reports (NIP-56), is flagged where it is installed", async () => {
    const erin = devKey();
    const report = await publishDir(erin, appDir(base, "erin.chat", "1.0.0"), relay);
    await refresh();
    await call("package.install", { id: "erin.chat", confirmRisk: true });
    settle(daemon, "erin.chat");
    const operator = devKey();
    const friend = devKey();
    await call("market.settings.set", { identity: npub(operator.pubkey) });
    for (const event of [
      sign(operator, { kind: KINDS.contacts, tags: [["p", friend.pubkey]] }),
      sign(friend, {
        kind: KINDS.report,
        tags: [
          ["e", report.events.release, "malware"],
          ["p", erin.pubkey, "malware"],
        ],
      }),
      sign(erin, { kind: KINDS.deletion, tags: [["e", report.events.release]], content: "withdrawn" }),
    ])
      assert.equal((await publish(relay.url, event)).ok, true);
    await refresh();
    const flags = (await listing()).installed.find((a) => a.id === "erin.chat")?.flags ?? [];
    assert.ok(
      flags.some((f) => /erin\.chat 1\.0\.0 was deleted by its publisher \(NIP-09\)/.test(f)),
      flags.join("; "),
    );
    assert.ok(
      flags.some((f) => /reported by 1 person in your network for malware/.test(f)),
      flags.join("; "),
    );
    const app = (await call("package.get", { id: "erin.chat" })) as { flags: string[] };
    assert.deepEqual(app.flags, flags, "package.get shows the same flags");
    await call("market.settings.set", { identity: null });
  });
});

/** An HTTP server answering every request with `body()` (or, `endless`, with it again and again). */
async function serveBytes(body: () => Buffer, options: { endless?: boolean } = {}) {
  let requests = 0;
  const server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(200, { "content-type": "application/octet-stream" });
    if (!options.endless) return void response.end(body());
    let sent = 0;
    const push = () => {
      while (sent < 64 * 1024 * 1024) {
        sent += 1;
        if (!response.write(body())) return void response.once("drain", push);
      }
      response.end();
    };
    response.on("close", () => {
      sent = Number.POSITIVE_INFINITY;
    });
    push();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bundle.tar`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
