/**
 * Generated secrets (SPEC invariant 4): 0600 files in 0700 directories, from the declared alphabet
 * and length, generated once and never again while present, recreated when missing, removed by purge;
 * every value held is masked in what the daemon records.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { generateSecret, SecretFiles } from "./secrets.ts";

const root = mkdtempSync(join(tmpdir(), "archy-secrets-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const ALPHABET = {
  alphanumeric: /^[A-Za-z0-9]*$/,
  hex: /^[0-9a-f]*$/,
  base64url: /^[A-Za-z0-9_-]*$/,
} as const;

function manifest(id: string): Manifest {
  const text = `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: A test app
containers:
  web:
    image: docker.io/library/nginx:1.27
secrets:
  password:
    type: alphanumeric
    length: 32
  key:
    type: hex
    length: 64
  token:
    type: base64url
    length: 43
`;
  const parsed = parseManifest(text, `${id}.yml`);
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return parsed.manifest;
}

const mode = (path: string) => statSync(path).mode & 0o777;
const fresh = () => new SecretFiles(join(root, `case-${++n}`, "secrets"));

describe("generateSecret", () => {
  test("property: the declared length, from the declared alphabet", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("alphanumeric", "hex", "base64url"),
        fc.integer({ min: 1, max: 256 }),
        (type, length) => {
          const value = generateSecret(type as keyof typeof ALPHABET, length);
          assert.equal(value.length, length);
          assert.match(value, ALPHABET[type as keyof typeof ALPHABET]);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("every character of the alphabet is used, and values do not repeat", () => {
    const seen = new Set(generateSecret("alphanumeric", 20_000));
    assert.equal(seen.size, 62);
    assert.equal(new Set(generateSecret("base64url", 20_000)).size, 64);
    assert.equal(new Set(generateSecret("hex", 5_000)).size, 16);
    const values = new Set(Array.from({ length: 200 }, () => generateSecret("hex", 32)));
    assert.equal(values.size, 200);
  });
});

describe("SecretFiles", () => {
  test("first ensure generates every declared secret as a 0600 file in 0700 directories", async () => {
    const secrets = fresh();
    const ensured = await secrets.ensureAll(manifest("alpha"));
    assert.deepEqual(
      ensured.map((s) => [s.name, s.created, s.value.length]),
      [
        ["password", true, 32],
        ["key", true, 64],
        ["token", true, 43],
      ],
    );
    assert.match(ensured[0]?.value ?? "", ALPHABET.alphanumeric);
    assert.match(ensured[1]?.value ?? "", ALPHABET.hex);
    assert.match(ensured[2]?.value ?? "", ALPHABET.base64url);
    assert.equal(mode(secrets.root), 0o700);
    assert.equal(mode(secrets.dirOf("alpha")), 0o700);
    for (const s of ensured) {
      const path = join(secrets.dirOf("alpha"), s.name);
      assert.equal(mode(path), 0o600, `${s.name} is 0600`);
      assert.equal(readFileSync(path, "utf8"), s.value);
      assert.equal(statSync(path).uid, process.getuid?.());
    }
  });

  test("never regenerated while present (ensure again, a new SecretFiles: same values)", async () => {
    const secrets = fresh();
    const first = await secrets.ensureAll(manifest("alpha"));
    const again = await secrets.ensureAll(manifest("alpha"));
    const reopened = await new SecretFiles(secrets.root).ensureAll(manifest("alpha"));
    for (const run of [again, reopened]) {
      assert.deepEqual(
        run.map((s) => [s.name, s.value]),
        first.map((s) => [s.name, s.value]),
      );
      assert.ok(run.every((s) => !s.created));
    }
    assert.equal(await secrets.read("alpha", "key"), first[1]?.value);
  });

  test("a missing or empty file is recreated; the others are kept", async () => {
    const secrets = fresh();
    const first = await secrets.ensureAll(manifest("alpha"));
    unlinkSync(join(secrets.dirOf("alpha"), "password"));
    writeFileSync(join(secrets.dirOf("alpha"), "token"), "");
    const healed = await secrets.ensureAll(manifest("alpha"));
    assert.deepEqual(
      healed.map((s) => [s.name, s.created]),
      [
        ["password", true],
        ["key", false],
        ["token", true],
      ],
    );
    assert.notEqual(healed[0]?.value, first[0]?.value);
    assert.equal(healed[1]?.value, first[1]?.value);
    assert.equal(healed[2]?.value.length, 43);
    assert.equal(mode(join(secrets.dirOf("alpha"), "password")), 0o600);
  });

  test("loosened permissions are tightened again", async () => {
    const secrets = fresh();
    await secrets.ensureAll(manifest("alpha"));
    chmodSync(secrets.root, 0o755);
    chmodSync(secrets.dirOf("alpha"), 0o755);
    chmodSync(join(secrets.dirOf("alpha"), "key"), 0o644);
    await secrets.ensureAll(manifest("alpha"));
    assert.equal(mode(secrets.root), 0o700);
    assert.equal(mode(secrets.dirOf("alpha")), 0o700);
    assert.equal(mode(join(secrets.dirOf("alpha"), "key")), 0o600);
  });

  test("every secret value it holds is masked: those on disk at start, generated, read", async () => {
    const first = fresh();
    const [password, key] = await first.ensureAll(manifest("alpha"));
    const secrets = new SecretFiles(first.root);
    const line = () => `pw=${password?.value} key=${key?.value}`;
    assert.equal(secrets.mask.apply(line()), line(), "nothing known before it looks");
    secrets.learnExisting();
    assert.equal(secrets.mask.apply(line()), "pw=[secret alpha/password] key=[secret alpha/key]");
    const beta = await secrets.ensureAll(manifest("beta"));
    assert.ok(beta.every((s) => s.masked));
    assert.equal(secrets.mask.apply(`t=${beta[2]?.value}`), "t=[secret beta/token]");
    const other = new SecretFiles(first.root);
    await other.read("beta", "key");
    assert.equal(other.mask.apply(`k=${beta[1]?.value}`), "k=[secret beta/key]");
  });

  test("a file shortened by hand below 12 characters is used, and reported as not masked", async () => {
    const secrets = fresh();
    await secrets.ensureAll(manifest("alpha"));
    writeFileSync(join(secrets.dirOf("alpha"), "password"), "1234");
    const [password] = await secrets.ensureAll(manifest("alpha"));
    assert.deepEqual([password?.value, password?.created, password?.masked], ["1234", false, false]);
    assert.equal(secrets.mask.apply("took 1234 ms"), "took 1234 ms");
  });

  test("purge removes one app's secrets only; reading a missing secret gives undefined", async () => {
    const secrets = fresh();
    await secrets.ensureAll(manifest("alpha"));
    const beta = await secrets.ensureAll(manifest("beta"));
    await secrets.purge("alpha");
    assert.equal(await secrets.read("alpha", "key"), undefined);
    assert.equal(await secrets.read("beta", "key"), beta[1]?.value);
    await secrets.purge("alpha");
    const regenerated = await secrets.ensureAll(manifest("alpha"));
    assert.ok(
      regenerated.every((s) => s.created),
      "after a purge, a new install gets new secrets",
    );
  });
});
