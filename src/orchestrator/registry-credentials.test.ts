import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RegistryCredentials, RegistryCredentialsError } from "./registry-credentials.ts";
import { SecretMask } from "./secret-mask.ts";

const PASSWORD = "a-registry-password-0123456789";

describe("RegistryCredentials", () => {
  test("secrets never reach logs: a stored password is 0600 in a 0700 directory and masked from then on, also in a new daemon", async () => {
    const root = join(mkdtempSync(join(tmpdir(), "archy-registries-")), "registries");
    const mask = new SecretMask();
    const credentials = new RegistryCredentials(root, mask);
    await credentials.set("registry.example.org:5000", "ops", PASSWORD);
    assert.equal(statSync(root).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, "registry.example.org:5000.json")).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(root), ["registry.example.org:5000.json"], "no temporary file left");
    assert.equal(mask.apply(`login ${PASSWORD}`), "login [secret registry registry.example.org:5000]");
    assert.deepEqual(credentials.get("registry.example.org:5000"), {
      username: "ops",
      password: PASSWORD,
      serveraddress: "registry.example.org:5000",
    });
    const restarted = new SecretMask();
    new RegistryCredentials(root, restarted).learnExisting();
    assert.equal(restarted.apply(PASSWORD), "[secret registry registry.example.org:5000]");
    assert.deepEqual(credentials.hosts(), ["registry.example.org:5000"]);
    assert.equal(await credentials.remove("registry.example.org:5000"), true);
    assert.equal(credentials.get("registry.example.org:5000"), undefined);
  });

  test("a host that is not a registry host (a path, '..') is refused naming the field, nothing written", async () => {
    const root = join(mkdtempSync(join(tmpdir(), "archy-registries-")), "registries");
    const credentials = new RegistryCredentials(root, new SecretMask());
    for (const host of ["../../etc", "a/b", "", "Registry.Example.org"])
      await assert.rejects(credentials.set(host, "ops", PASSWORD), (error: unknown) => {
        assert.ok(error instanceof RegistryCredentialsError);
        assert.match(error.message, /^registry: /);
        return true;
      });
    await assert.rejects(
      credentials.set("r.example.org", "o p", PASSWORD),
      /^RegistryCredentialsError: username: /,
    );
    assert.deepEqual(credentials.hosts(), []);
  });
});
