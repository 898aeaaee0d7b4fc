import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Metadata, Timestamp } from "@tufjs/models";
import { generateKey, openKey, signer } from "./keys.ts";

const sample = () =>
  new Metadata(new Timestamp({ version: 1, specVersion: "1.0.31", expires: "2030-01-01T00:00:00Z" }));

describe("catalog keys", () => {
  test("a plain key signs metadata that its TUF public key verifies", () => {
    const content = generateKey("timestamp");
    const key = openKey(JSON.stringify(content), "t.key");
    const metadata = sample();
    metadata.sign(signer(key));
    assert.doesNotThrow(() => key.key.verifySignature(metadata));
    assert.equal(key.key.keyID, content.keyid);
  });

  test("a sealed key needs its passphrase, and a wrong one is refused without revealing anything", () => {
    const content = generateKey("root", "correct horse");
    const text = JSON.stringify(content);
    assert.doesNotMatch(text, /PRIVATE KEY/, "the private key is not in clear");
    assert.throws(() => openKey(text, "root.key"), /root\.key is encrypted: set its passphrase/);
    assert.throws(() => openKey(text, "root.key", "wrong"), /root\.key: wrong passphrase/);
    assert.equal(openKey(text, "root.key", "correct horse").key.keyID, content.keyid);
  });

  test("a key file whose public key or key id was changed is refused", () => {
    const content = generateKey("targets");
    const other = generateKey("targets");
    assert.throws(
      () => openKey(JSON.stringify({ ...content, public: other.public, keyid: other.keyid }), "x.key"),
      /does not match the public key/,
    );
    assert.throws(
      () => openKey(JSON.stringify({ ...content, keyid: other.keyid }), "x.key"),
      /key id does not match/,
    );
    assert.throws(() => openKey("{", "x.key"), /not a catalog key file/);
  });
});
