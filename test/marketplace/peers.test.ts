/**
 * Bundles from peer nodes, with two daemons (two data dirs, two stores) and a real relay on
 * loopback: node A has installed a developer's apps, and grants node B; node B fetches the bundles
 * it installs from A first, verifies them against the signed release, and uses the release's own
 * mirrors (its origin) when A's bytes are not the signed ones. Podman never answers here: what
 * counts is what each node serves, fetches, verifies and records.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RPC_CODES } from "../../src/api/rpc/errors.ts";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { PEER_BUNDLES_PATH } from "../../src/peers/peers.ts";
import { type Caller, fails, ok, startDaemon, storeSnapshot, type TestDaemon } from "../api/support.ts";
import { appDir, devKey, publishDir } from "./support.ts";

type Offer = { id: string; bundle: { sha256: string; size: number } };
type Operation = { state: string; logs: Array<{ level: string; message: string }> };

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("bundles from peer nodes: served to granted peers only, verified, origin wins over a lying peer", () => {
  let base: string;
  let relay: DevRelay;
  let nodeA: TestDaemon;
  let nodeB: TestDaemon;
  let callerA: Caller;
  let callerB: Caller;
  let tokenForB: string;
  const bundles = new Map<string, { sha256: string; size: number }>();
  const mirrorFile = (id: string) => join(base, "mirror", `${bundles.get(id)?.sha256}.tar`);
  const cachedOnA = (id: string) =>
    join(nodeA.dataDir, "marketplace", "bundles", `${bundles.get(id)?.sha256}.tar`);
  const cachedOnB = (id: string) =>
    join(nodeB.dataDir, "marketplace", "bundles", `${bundles.get(id)?.sha256}.tar`);
  /** A request to node A's peer path, its body read whole. */
  const peerGet = async (path: string, token?: string) => {
    const response = await fetch(
      `http://127.0.0.1:${nodeA.port}${path}`,
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
    );
    return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
  };
  const install = async (id: string) => {
    const accepted = (await ok(nodeB.port, "package.install", { id, confirmRisk: true }, callerB)) as {
      operationId: string;
    };
    return (await ok(nodeB.port, "operation.get", { id: accepted.operationId }, callerB)) as Operation;
  };

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "archy-market-peers-"));
    relay = await startDevRelay({ bundlesDir: join(base, "mirror") });
    [nodeA, nodeB] = await Promise.all([startDaemon({ apps: {} }), startDaemon({ apps: {} })]);
    callerA = { bearer: readFileSync(nodeA.tokenFile, "utf8").trim() };
    callerB = { bearer: readFileSync(nodeB.tokenFile, "utf8").trim() };
    const alice = devKey();
    for (const id of ["alice.one", "alice.two", "alice.three"])
      await publishDir(alice, appDir(base, id, "1.0.0"), relay);
    for (const [node, caller] of [
      [nodeA, callerA],
      [nodeB, callerB],
    ] as const) {
      await ok(node.port, "market.relays.add", { url: relay.url }, caller);
      await ok(node.port, "market.refresh", {}, caller);
    }
    const { apps } = (await ok(nodeA.port, "market.list", {}, callerA)) as { apps: Offer[] };
    for (const offer of apps) bundles.set(offer.id, offer.bundle);
    // Node A installs them all: it now has their verified bundles.
    for (const id of bundles.keys())
      await ok(nodeA.port, "package.install", { id, confirmRisk: true }, callerA);
    for (const id of bundles.keys()) assert.equal(statSync(cachedOnA(id)).size, bundles.get(id)?.size);
    ({ token: tokenForB } = (await ok(nodeA.port, "peers.grant", { name: "node-b" }, callerA)) as {
      token: string;
    });
    await ok(nodeB.port, "peers.add", { url: `http://127.0.0.1:${nodeA.port}`, token: tokenForB }, callerB);
  });

  after(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await relay?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("invariant: only a peer holding a token this node granted reads its bundles; no token, another credential, a revoked grant or a bad name read nothing", async () => {
    const path = `${PEER_BUNDLES_PATH}${bundles.get("alice.one")?.sha256}.tar`;
    const granted = await peerGet(path, tokenForB);
    assert.equal(granted.status, 200);
    assert.equal(sha256(granted.body), bundles.get("alice.one")?.sha256);

    const { token: revoked } = (await ok(nodeA.port, "peers.grant", { name: "node-c" }, callerA)) as {
      token: string;
    };
    assert.equal((await peerGet(path, revoked)).status, 200, "a granted token reads");
    await ok(nodeA.port, "peers.revoke", { name: "node-c" }, callerA);
    for (const [what, token] of [
      ["no token", undefined],
      ["the node's CLI token", callerA.bearer],
      ["a token never granted", `archy-peer-${"x".repeat(43)}`],
      ["a revoked grant's token", revoked],
    ] as const) {
      const refused = await peerGet(path, token);
      assert.equal(refused.status, 401, what);
      assert.match(Buffer.from(refused.body).toString(), /not a peer of this node/, what);
    }
    for (const name of ["..%2F..%2Fstate%2Fstore.db", "store.db", `${"0".repeat(64)}.tar`])
      assert.equal((await peerGet(`${PEER_BUNDLES_PATH}${name}`, tokenForB)).status, 404, name);
    // The images side of the same listener (docs/peers.md#images): the same tokens, the same refusals.
    assert.equal((await peerGet("/v2/", tokenForB)).status, 200, "a granted token reaches the image API");
    for (const token of [undefined, callerA.bearer, revoked])
      assert.equal((await peerGet("/v2/", token)).status, 401, String(token && "a token not granted"));
    for (const name of ["manifests/latest", `manifests/sha256:${"0".repeat(64)}`])
      assert.equal((await peerGet(`/v2/archy/web/${name}`, tokenForB)).status, 404, name);
    const listed = JSON.stringify(await ok(nodeA.port, "peers.list", {}, callerA));
    assert.match(listed, /"name":"node-b"/);
    assert.doesNotMatch(listed, new RegExp(tokenForB), "a grant's token is never shown again");
    assert.doesNotMatch(
      JSON.stringify(await ok(nodeB.port, "peers.list", {}, callerB)),
      new RegExp(tokenForB),
      "a peer's token is never shown",
    );
  });

  test("a peer that refuses the token is not added: the operator hears why at once, and nothing changes", async () => {
    const before = storeSnapshot(nodeB.storePath);
    const refused = await fails(
      nodeB.port,
      "peers.add",
      { url: `http://127.0.0.1:${nodeA.port}/`, token: `archy-peer-${"W".repeat(43)}` },
      callerB,
      RPC_CODES.invalidParams,
    );
    assert.match(refused.message, /was not added: it answered HTTP 401: it does not take this node's token/);
    assert.deepEqual(storeSnapshot(nodeB.storePath), before, "the refused peer left no trace");
    const again = (await ok(
      nodeB.port,
      "peers.add",
      { url: `http://127.0.0.1:${nodeA.port}`, token: tokenForB },
      callerB,
    )) as { added: boolean; check: { accepted: boolean; message: string } };
    assert.deepEqual(
      [again.added, again.check.accepted],
      [false, true],
      "the granted token: checked and kept",
    );
  });

  test("node B installs from its peer: the release's mirror no longer has the bundle, A's verified copy is used, and the operation log says so", async () => {
    unlinkSync(mirrorFile("alice.one"));
    const operation = await install("alice.one");
    assert.ok(
      operation.logs.some(
        (l) =>
          l.level === "info" &&
          l.message.includes(`served by peer http://127.0.0.1:${nodeA.port}${PEER_BUNDLES_PATH}`) &&
          l.message.includes("verified against the signed release"),
      ),
      JSON.stringify(operation.logs),
    );
    assert.equal(nodeB.orchestrator.store.getApp("alice.one")?.version, "1.0.0");
    assert.equal(sha256(readFileSync(cachedOnB("alice.one"))), bundles.get("alice.one")?.sha256);
    assert.ok(
      nodeA.logs.some((line) => line.includes("to peer node-b")),
      "A's log names the peer it served",
    );
  });

  test("a lying peer (its copy corrupted) is dropped and the release's mirror serves the signed bytes; with no honest source nothing is installed", async () => {
    for (const id of ["alice.two", "alice.three"]) {
      const size = bundles.get(id)?.size ?? 0;
      writeFileSync(cachedOnA(id), Buffer.alloc(size, 0x41));
    }
    const operation = await install("alice.two");
    const messages = operation.logs.map((l) => l.message);
    assert.ok(
      operation.logs.some(
        (l) =>
          l.level === "warn" &&
          /^peer http:\/\/127\.0\.0\.1:\d+\/ dropped: the peer's bytes are not the signed bundle: .*the release's own mirrors are used$/.test(
            l.message,
          ),
      ),
      JSON.stringify(messages),
    );
    assert.ok(
      messages.some((m) => m.includes(`served by mirror ${relay.bundlesUrl}`)),
      JSON.stringify(messages),
    );
    assert.equal(
      sha256(readFileSync(cachedOnB("alice.two"))),
      bundles.get("alice.two")?.sha256,
      "B keeps the signed bytes, never the peer's",
    );

    unlinkSync(mirrorFile("alice.three"));
    const before = storeSnapshot(nodeB.storePath).apps;
    const refused = await fails(
      nodeB.port,
      "package.install",
      { id: "alice.three", confirmRisk: true },
      callerB,
      RPC_CODES.verificationFailed,
    );
    assert.match(
      refused.message,
      /no peer or mirror of alice\.three 1\.0\.0 served the signed bundle: peer http:\/\/127\.0\.0\.1:\d+\/ dropped: .*HTTP 404.*nothing was installed/,
    );
    assert.deepEqual(storeSnapshot(nodeB.storePath).apps, before, "nothing is installed");
    assert.throws(() => statSync(cachedOnB("alice.three")), "nothing is kept of the peer's bytes");
  });
});
