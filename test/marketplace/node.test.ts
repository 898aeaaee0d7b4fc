/**
 * A node and the marketplace, through the daemon's API (Podman never answers here: what counts is
 * what the node offers, verifies and records). A real relay (`archy dev relay`'s) on loopback holds
 * what developers publish with the same code as `archy app publish`; mirrors are that relay's
 * bundle store or small HTTP servers the tests control.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { buildPublication, KINDS } from "../../src/marketplace/events.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { publish } from "../../src/marketplace/relay.ts";
import { type Caller, fails, ok, startDaemon, storeSnapshot, type TestDaemon } from "../api/support.ts";
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
  const refresh = () => call("market.refresh") as Promise<Array<{ error: string | null; refused: Record<string, { count: number }> }>>;
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
    assert.deepEqual(report.relays.map((r) => r.ok), [true]);
    const statuses = await refresh();
    assert.equal(statuses[0]?.error, null, JSON.stringify(statuses));
    const offer = (await listing()).apps.find((a) => a.id === "alice.notes");
    assert.ok(offer, "the app is offered");
    assert.equal(offer.version, "1.0.0");
    assert.equal(offer.publisher, npub(alice.pubkey));
    assert.equal(offer.source, `nostr:${npub(alice.pubkey)}`);
    assert.equal(offer.trust.level, "unknown");
    const available = (await call("package.available")) as Array<{ id: string; publisher: string | null; trust: unknown }>;
    assert.equal(available.find((a) => a.id === "alice.notes")?.publisher, npub(alice.pubkey));

    const before = storeSnapshot(daemon.storePath).apps;
    const refused = await fails(daemon.port, "package.install", { id: "alice.notes" }, caller, RPC_CODES.trustConfirmationRequired);
    assert.match(refused.message, /published by npub1.*trust 0\/100 \(unknown: .*\).*below your threshold of 50/);
    assert.deepEqual(storeSnapshot(daemon.storePath).apps, before, "nothing is installed without the confirmation");

    await call("package.install", { id: "alice.notes", confirmRisk: true });
    const row = daemon.orchestrator.store.getApp("alice.notes");
    assert.equal(row?.source, `nostr:${npub(alice.pubkey)}`);
    assert.equal(row?.version, "1.0.0");
    assert.match(row?.manifestText ?? "", /id: alice\.notes/);
  });
});
