import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { MINIMAL } from "../../test/support/manifest-text.ts";
import { manifestJsonSchema } from "../manifest/json-schema.ts";
import { MANIFEST_RULES_VERSION, parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "../manifest/parse.ts";
import {
  currentParsedFormKey,
  ManifestCache,
  manifestHash,
  type ParsedManifestStore,
  parsedFormKey,
} from "./manifest-cache.ts";

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

  test("the parsed form's key is derived from the rules: any change to the schema, the tolerated rules or the rules' version makes another key", () => {
    const rules = {
      version: MANIFEST_RULES_VERSION,
      jsonSchema: manifestJsonSchema(),
      tolerated: STORED_MANIFEST_TOLERATED_RULES,
    };
    const key = parsedFormKey(rules);
    assert.equal(currentParsedFormKey(), key, "the daemon's key is the one of the schema in the code");
    assert.match(key, new RegExp(`^${MANIFEST_RULES_VERSION}\\.[0-9a-f]{12}$`));
    assert.equal(parsedFormKey({ ...rules, jsonSchema: manifestJsonSchema() }), key, "stable across runs");
    const schema = rules.jsonSchema as { properties: Record<string, unknown> };
    const changed = [
      { ...rules, version: rules.version + 1 },
      {
        ...rules,
        jsonSchema: { ...schema, properties: { ...schema.properties, extra: { type: "string" } } },
      },
      { ...rules, tolerated: new Set([...rules.tolerated, "limits.new-rule"]) },
      { ...rules, tolerated: new Set([...rules.tolerated].slice(1)) },
    ].map(parsedFormKey);
    assert.equal(new Set([key, ...changed]).size, 1 + changed.length, changed.join(", "));
  });

  test("a parse is kept in the store, and the next cache reads it back instead of parsing", () => {
    const store = memoryStore();
    const first = new ManifestCache(store).of(row(SAMPLES[0] as string));
    assert.ok(first.manifest);
    assert.equal(store.rows.size, 1);
    const [key, json] = [...store.rows][0] as [string, string];
    assert.match(key, new RegExp(`^${currentParsedFormKey()}:${manifestHash(SAMPLES[0] as string)}$`));
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
    assert.equal([...store.rows.keys()].filter((k) => k.startsWith(`${currentParsedFormKey()}:`)).length, 1);
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
