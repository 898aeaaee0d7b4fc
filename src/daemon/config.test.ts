/**
 * The daemon's settings of port-per-interface mode: off unless asked for, a range from a flag, the
 * environment or the config file, and a bad range refused with its origin and the fix; the bound of
 * the peer image cache.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./config.ts";

test("interface ports are off by default and with off; a range comes from a flag, the environment or the file", () => {
  assert.equal(loadConfig({ flags: {}, env: {} }).access?.interfacePorts, undefined);
  assert.equal(
    loadConfig({ flags: { "interface-ports": "off" }, env: {} }).access?.interfacePorts,
    undefined,
  );
  assert.deepEqual(
    loadConfig({ flags: { "interface-ports": "7800-7899" }, env: {} }).access?.interfacePorts,
    {
      first: 7800,
      last: 7899,
    },
  );
  assert.deepEqual(
    loadConfig({ flags: {}, env: { ARCHY_INTERFACE_PORTS: "9000-9000" } }).access?.interfacePorts,
    {
      first: 9000,
      last: 9000,
    },
  );
  const dir = mkdtempSync(join(tmpdir(), "archy-config-"));
  try {
    const file = join(dir, "config.yml");
    writeFileSync(file, "interfacePorts: 7800-7809\n");
    assert.deepEqual(loadConfig({ flags: { config: file }, env: {} }).access?.interfacePorts, {
      first: 7800,
      last: 7809,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bad interface port range is refused, naming where it came from and the fix", () => {
  for (const value of ["7800", "7899-7800", "80-90", "7800-70000", "a-b", "7800-7899,7900"])
    assert.throws(
      () => loadConfig({ flags: { "interface-ports": value }, env: {} }),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.startsWith("--interface-ports: ") &&
        error.message.includes("use e.g. 7800-7899"),
      value,
    );
});

test("mdns is off by default, on with a node name under .local, refused with any other name", () => {
  assert.equal(loadConfig({ flags: {}, env: {} }).access?.mdns, false);
  assert.equal(loadConfig({ flags: { mdns: "on", "node-name": "archy.local" }, env: {} }).access?.mdns, true);
  assert.throws(
    () => loadConfig({ flags: { "node-name": "archy.lan" }, env: { ARCHY_MDNS: "on" } }),
    (error: Error) =>
      error instanceof ConfigError &&
      error.message.startsWith("ARCHY_MDNS: ") &&
      error.message.includes("--node-name archy.local"),
  );
  assert.throws(() => loadConfig({ flags: { mdns: "yes" }, env: {} }), /--mdns: mdns "yes" is not on or off/);
});

test("the peer image cache's bound comes from the config file in MiB; a negative or fractional one is refused, naming the key", () => {
  assert.equal(
    loadConfig({ flags: {}, env: {} }).peerImageCacheBytes,
    undefined,
    "the default is image-cache.ts's",
  );
  const dir = mkdtempSync(join(tmpdir(), "archy-config-"));
  try {
    const file = join(dir, "config.yml");
    writeFileSync(file, "peerImageCacheMiB: 512\n");
    assert.equal(loadConfig({ flags: { config: file }, env: {} }).peerImageCacheBytes, 512 * 1024 * 1024);
    for (const bad of ["-1", "1.5", "lots"]) {
      writeFileSync(file, `peerImageCacheMiB: ${bad}\n`);
      assert.throws(
        () => loadConfig({ flags: { config: file }, env: {} }),
        (error: unknown) => error instanceof ConfigError && /peerImageCacheMiB/.test(error.message),
        bad,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
