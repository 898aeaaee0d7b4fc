import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  containersConf,
  containersConfStatus,
  STORAGE_CONF_CONTENT,
  storageConfStatus,
  tomlSection,
} from "./config.ts";

describe("containersConf", () => {
  it("is exactly the verified drop-in on a machine without systemd", () => {
    assert.equal(
      containersConf(false),
      [
        "[containers]",
        "default_ulimits = []",
        "keyring = false",
        "[engine]",
        'runtime = "runc"',
        "exit_command_delay = 10",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        "[network]",
        'network_backend = "netavark"',
        "",
      ].join("\n"),
    );
  });

  it("uses systemd and journald where systemd runs the machine, runc either way", () => {
    const engine = tomlSection(containersConf(true), "engine");
    assert.equal(engine.get("cgroup_manager"), "systemd");
    assert.equal(engine.get("events_logger"), "journald");
    assert.equal(engine.get("runtime"), "runc");
  });
});

describe("tomlSection", () => {
  it("reads one section's keys, unquoting strings and ignoring comments", () => {
    const content = '# top\n[a]\nx = "1"\n[ b ]\nx = "2" # trailing\ny=3\n#z = 4\n[c]\nx = "5"\n';
    assert.deepEqual(
      [...tomlSection(content, "b")],
      [
        ["x", "2"],
        ["y", "3"],
      ],
    );
  });
});

describe("containersConfStatus", () => {
  it("passes on exactly the wanted content", () => {
    assert.deepEqual(containersConfStatus(containersConf(false), false), {
      ok: true,
      detail: "runtime runc, cgroup manager cgroupfs",
    });
  });

  it("fails when missing or different (including the other systemd choice)", () => {
    assert.equal(containersConfStatus(null, false).ok, false);
    assert.equal(containersConfStatus(containersConf(true), false).ok, false);
    assert.equal(containersConfStatus(containersConf(false).replace("runc", "crun"), false).ok, false);
  });
});

describe("storageConfStatus", () => {
  it("passes on what doctor writes", () => {
    assert.deepEqual(storageConfStatus(STORAGE_CONF_CONTENT), { ok: true, detail: 'driver "overlay"' });
  });

  it("keeps an operator's extra settings", () => {
    const content = `${STORAGE_CONF_CONTENT}\n[storage.options.overlay]\nmountopt = "nodev"\n`;
    assert.equal(storageConfStatus(content).ok, true);
  });

  it("fails when missing, on another driver, or without root's paths", () => {
    assert.match(storageConfStatus(null).detail, /missing/);
    assert.deepEqual(storageConfStatus('[storage]\ndriver = "vfs"\n'), {
      ok: false,
      detail: 'driver is "vfs"',
    });
    assert.deepEqual(storageConfStatus("[storage]\n"), { ok: false, detail: "driver is not set" });
    assert.match(
      storageConfStatus('[storage]\ndriver = "overlay"\n').detail,
      /runroot and graphroot not set/,
    );
  });

  it("only reads the [storage] section", () => {
    assert.equal(storageConfStatus('[other]\ndriver = "overlay"\n').ok, false);
  });
});
