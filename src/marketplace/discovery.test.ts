import assert from "node:assert/strict";
import { test } from "node:test";
import { finalizeEvent } from "nostr-tools/pure";
import { offersOf } from "./discovery.ts";
import { type MarketRecord, recordOf, type SignedEvent } from "./events.ts";
import { buildPublication, generateKeyFile, openKeyFile } from "./signing.ts";

const alice = openKeyFile(JSON.stringify(generateKeyFile()), "a");
const mallory = openKeyFile(JSON.stringify(generateKeyFile()), "m");
const publish = (key: typeof alice, version: string, at: number) =>
  buildPublication(
    key,
    { id: "alice.notes", name: "Notes", description: "d", category: "other" },
    {
      version,
      notes: "",
      bundle: { size: 1, sha256: "a".repeat(64), blake3: "b".repeat(64) },
      urls: ["https://m/x"],
    },
    at,
  );
const records = (events: SignedEvent[]) => {
  const all = events.map((e) => recordOf(e)).filter((r): r is MarketRecord => !("problem" in r));
  return {
    apps: all.filter((r) => r.kind === "app"),
    releases: all.filter((r) => r.kind === "release"),
    assets: all.filter((r) => r.kind === "asset"),
    deletions: all.filter((r) => r.kind === "deletion"),
  };
};

test("the offered release is the highest version its author signed and did not delete, never the newest event", () => {
  const v1 = publish(alice, "1.0.0", 1_000_000);
  const v2 = publish(alice, "2.0.0", 2_000_000);
  const late = publish(alice, "0.9.0", 3_000_000); // published last, pointed at by the newest app event
  const all = [v1, v2, late].flatMap((p) => [p.asset, p.release]);
  let { offers } = offersOf(records([...all, late.app]));
  assert.deepEqual(
    offers.map((o) => o.release.version),
    ["2.0.0"],
  );
  const deletion = finalizeEvent(
    { kind: 5, created_at: 4000, tags: [["e", v2.release.id]], content: "" },
    alice.secret,
  );
  ({ offers } = offersOf(records([...all, late.app, deletion])));
  assert.deepEqual(
    offers.map((o) => o.release.version),
    ["1.0.0"],
    "a deleted release is not offered",
  );
});

test("another key's release or asset never counts for an app: the same id under two keys is two apps", () => {
  const hers = publish(mallory, "9.0.0", 2_000_000);
  const mine = publish(alice, "1.0.0", 1_000_000);
  const { offers } = offersOf(
    records([mine.app, mine.release, mine.asset, hers.app, hers.release, hers.asset]),
  );
  assert.deepEqual(
    offers.map((o) => [o.app.pubkey === alice.pubkey ? "alice" : "mallory", o.release.version]).sort(),
    [
      ["alice", "1.0.0"],
      ["mallory", "9.0.0"],
    ],
  );
  const { unoffered } = offersOf(records([mine.app, hers.release, hers.asset]));
  assert.match(unoffered[0]?.reason ?? "", /no release of it was found/);
});
