import assert from "node:assert/strict";
import { test } from "node:test";
import { didKey, MarketError, npub, parseKeyFile, parsePublicKey } from "./identity.ts";
import { generateKeyFile, openKeyFile } from "./signing.ts";

test("a key is the same from hex, npub and did:key; anything else is no key", () => {
  const file = generateKeyFile();
  assert.match(file.npub, /^npub1[0-9a-z]{58}$/);
  assert.match(file.did, /^did:key:zQ3s[1-9A-HJ-NP-Za-km-z]+$/);
  assert.equal(parsePublicKey(file.pubkey), file.pubkey);
  assert.equal(parsePublicKey(file.npub), file.pubkey);
  assert.equal(parsePublicKey(didKey(file.pubkey)), file.pubkey);
  for (const bad of ["", "npub1xyz", "did:key:z6Mk", "nsec1abc", file.pubkey.slice(1), "did:web:example.org"])
    assert.equal(parsePublicKey(bad), undefined, bad);
});

test("a sealed key file opens only with its passphrase; a plain one needs none; an altered one is refused", () => {
  const sealed = JSON.stringify(generateKeyFile({ passphrase: "correct horse" }));
  assert.doesNotMatch(sealed, /"hex"/, "no secret key in clear");
  assert.throws(
    () => openKeyFile(sealed, "k.json"),
    /k\.json is sealed: set its passphrase in the environment variable ARCHY_DEV_PASSPHRASE/,
  );
  assert.throws(() => openKeyFile(sealed, "k.json", "wrong"), /wrong passphrase/);
  const key = openKeyFile(sealed, "k.json", "correct horse");
  assert.equal(key.pubkey, JSON.parse(sealed).pubkey);
  const plain = generateKeyFile();
  assert.equal(openKeyFile(JSON.stringify(plain), "p.json").pubkey, plain.pubkey);
  const altered = { ...plain, pubkey: generateKeyFile().pubkey };
  assert.throws(() => parseKeyFile(JSON.stringify(altered), "a.json"), MarketError);
  const swapped = { ...plain, private: generateKeyFile().private };
  assert.throws(() => openKeyFile(JSON.stringify(swapped), "s.json"), /does not match the public key/);
  assert.throws(() => parseKeyFile("{}", "e.json"), /not a developer key file .*archy dev keygen/);
  assert.equal(npub(plain.pubkey), plain.npub);
});
