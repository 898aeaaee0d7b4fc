import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { MINIMAL } from "../../test/support/manifest-text.ts";
import { parseManifest } from "../manifest/parse.ts";
import { ManifestCache, manifestHash, PARSED_FORM, type ParsedManifestStore } from "./manifest-cache.ts";

const SAMPLES = ["hello-web", "notes", "mini-node", "mini-explorer"].map((id) =>
  readFileSync(new URL(`../../apps/${id}/manifest.yml`, import.meta.url), "utf8"),
);

function memoryStore(): ParsedManifestStore & { rows: Map<string, string> } {
  const rows = new Map<string, string>();
  return {
    rows,
    getParsedManifest: (key) => rows.get(key),
    putParsedManifest: (key, json) => void rows.set(key, json),
  };
}

const row = (text: string) => ({ id: "app", manifestText: text, manifestHash: manifestHash(text) });

describe("manifest cache", () => {
  test("the parsed form survives JSON exactly (no undefined field, no Date, no Map)", () => {
    for (const text of SAMPLES) {
      const parsed = parseManifest(text, "sample");
      assert.ok(parsed.ok);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(parsed.manifest)), parsed.manifest);
    }
  });

  test("the parsed form's version names the schema it was made with: change one, bump the other", () => {
    const schema = readFileSync(new URL("../../schema/manifest-v1.json", import.meta.url));
    assert.equal(
      createHash("sha256").update(schema).digest("hex"),
      PARSED_FORM.schemaSha256,
      "schema/manifest-v1.json changed: bump PARSED_FORM.version and set its schemaSha256",
    );
  });

  test("a parse is kept in the store, and the next cache reads it back instead of parsing", () => {
    const store = memoryStore();
    const first = new ManifestCache(store).of(row(SAMPLES[0] as string));
    assert.ok(first.manifest);
    assert.equal(store.rows.size, 1);
    const [key, json] = [...store.rows][0] as [string, string];
    assert.match(
      key,
      new RegExp(`^${PARSED_FORM.version}\\.[0-9a-f]{12}:${manifestHash(SAMPLES[0] as string)}$`),
    );
    // Proof that the next daemon reads the stored form: a marked copy comes back.
    store.rows.set(key, JSON.stringify({ ...JSON.parse(json), name: "read from the store" }));
    assert.equal(
      new ManifestCache(store).of(row(SAMPLES[0] as string)).manifest?.name,
      "read from the store",
    );
  });

  test("a parsed form of another version is ignored; an invalid manifest is not kept", () => {
    const store = memoryStore();
    const text = SAMPLES[1] as string;
    store.rows.set(`0.000000000000:${manifestHash(text)}`, JSON.stringify({ name: "stale" }));
    assert.notEqual(new ManifestCache(store).of(row(text)).manifest?.name, "stale");
    const broken = new ManifestCache(store).of(row("manifest: 1\nid: Not Valid\n"));
    assert.ok(broken.error);
    assert.equal([...store.rows.keys()].filter((k) => k.startsWith(`${PARSED_FORM.version}.`)).length, 1);
  });

  test("an installed manifest that breaks a rule added since keeps working as it did; a new one is refused", () => {
    const text = `${MINIMAL.trimEnd()}
    environment: { UMASK: 022 }
    stop_timeout: 0
    tmpfs: [/dev/mqueue]
`;
    const strict = parseManifest(text, "new.yml");
    assert.deepEqual(strict.ok ? [] : strict.issues.map((i) => i.rule).sort(), [
      "limits.stop-timeout",
      "security.path",
      "yaml.literal",
    ]);
    const stored = new ManifestCache().of(row(text));
    assert.equal(stored.error, undefined);
    assert.equal(stored.manifest?.containers.web?.environment.UMASK, 22, "the value it always had");
    assert.equal(stored.manifest?.containers.web?.stop_timeout, 0);
    // Security rules are never tolerated: an installed app whose host path reaches the daemon's
    // keys must not keep running from its stored manifest.
    const home = new ManifestCache().of(
      row(`${MINIMAL.trimEnd()}
    volumes: [{ host_path: /home/archipelago, permission: home, path: /h }]
permissions:
  home: { kind: host-path, path: /home, reason: reads the home }
`),
    );
    assert.match(home.error ?? "", /host path \/home can never be granted: it is \/home/);
    // Rules an install always enforced still make a stored manifest invalid.
    assert.ok(
      new ManifestCache().of(
        row(`${MINIMAL.trimEnd()}
    ports: [{ container: 0 }]
`),
      ).error,
    );
  });
});
