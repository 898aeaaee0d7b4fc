import assert from "node:assert/strict";
import { test } from "node:test";
import { finalizeEvent } from "nostr-tools/pure";
import { eventChecker, KINDS, newer, recordOf, type SignedEvent } from "./events.ts";
import { buildPublication, generateKeyFile, openKeyFile } from "./signing.ts";

const checkEvent = await eventChecker();

const key = openKeyFile(JSON.stringify(generateKeyFile()), "k");
const bundle = { size: 10, sha256: "a".repeat(64), blake3: "b".repeat(64) };
const publication = buildPublication(
  key,
  { id: "alice.notes", name: "Notes", description: "d", category: "other", license: "MIT" },
  { version: "1.2.0", notes: "n", bundle, urls: ["https://mirror.example/x.tar", "ftp://no/x"] },
  1_700_000_000_000,
);
const copy = (event: SignedEvent) => JSON.parse(JSON.stringify(event)) as SignedEvent;

test("a publication's events verify and mean an app, its release pointing at its asset, and the asset's bundle", () => {
  const records = [publication.app, publication.release, publication.asset].map((e) => {
    const checked = checkEvent(copy(e));
    assert.ok("event" in checked, JSON.stringify(checked));
    return recordOf(checked.event);
  });
  const [app, release, asset] = records;
  assert.equal(app && "kind" in app && app.kind, "app");
  assert.ok(release && "kind" in release && release.kind === "release");
  assert.equal(release.assetId, publication.asset.id);
  assert.equal(release.address, `${KINDS.release}:${key.pubkey}:alice.notes@1.2.0`);
  assert.ok(asset && "kind" in asset && asset.kind === "asset");
  assert.deepEqual(asset.bundle, bundle);
  assert.deepEqual(asset.urls, ["https://mirror.example/x.tar"], "only http(s) URLs");
});

test("an event changed after signing, of the wrong shape or too large is refused with the reason", () => {
  assert.match(
    JSON.stringify(checkEvent({ ...copy(publication.app), content: "changed" })),
    /bad id or signature/,
  );
  assert.match(JSON.stringify(checkEvent({ ...copy(publication.app), sig: "00" })), /not a Nostr event: sig/);
  assert.match(JSON.stringify(checkEvent("text")), /not a Nostr event/);
  const big = finalizeEvent(
    { kind: KINDS.app, created_at: 1, tags: [["d", "a.b"]], content: "x".repeat(20_000) },
    key.secret,
  );
  assert.match(JSON.stringify(checkEvent(copy(big))), /over the 16384 a node takes/);
  assert.match(JSON.stringify(checkEvent(copy(publication.app), () => false)), /not what was asked for/);
});

test("a release that does not point at its own author's app, or without semver, means nothing", () => {
  const sign = (tags: string[][]) =>
    finalizeEvent({ kind: KINDS.release, created_at: 1, tags, content: "" }, key.secret);
  const base = [
    ["i", "alice.notes"],
    ["version", "1.0.0"],
    ["d", "alice.notes@1.0.0"],
    ["e", "c".repeat(64)],
  ];
  assert.match(
    JSON.stringify(recordOf(sign([...base, ["a", `${KINDS.app}:${"f".repeat(64)}:alice.notes`]]))),
    /does not point at its author's app/,
  );
  assert.match(
    JSON.stringify(
      recordOf(
        sign([
          ["i", "alice.notes"],
          ["version", "v1"],
        ]),
      ),
    ),
    /is not an app version/,
  );
  assert.ok(!("problem" in recordOf(sign([...base, ["a", `${KINDS.app}:${key.pubkey}:alice.notes`]]))));
});

test("NIP-01's order: the later event wins, and at the same time the lower id", () => {
  assert.ok(newer({ created_at: 2, id: "b" }, { created_at: 1, id: "a" }));
  assert.ok(newer({ created_at: 1, id: "a" }, { created_at: 1, id: "b" }));
  assert.ok(!newer({ created_at: 1, id: "b" }, { created_at: 1, id: "a" }));
});
