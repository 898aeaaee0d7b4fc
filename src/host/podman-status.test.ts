import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  podmanInfoStatus,
  propagationStatus,
  quadletStatus,
  TEST_IMAGE_HASH_LABEL,
  testImageStatus,
  worldReadWritable,
} from "./podman-status.ts";

const info = (
  driver: string,
  runtime: string,
  cgroup = { cgroupVersion: "v2", cgroupControllers: ["memory"] },
) =>
  JSON.stringify({
    host: { ociRuntime: { name: runtime }, security: { rootless: true }, ...cgroup },
    store: { graphDriverName: driver },
  });

describe("podmanInfoStatus", () => {
  it("passes with overlay and runc", () => {
    assert.deepEqual(podmanInfoStatus(0, info("overlay", "runc"), ""), {
      ok: true,
      detail: "driver overlay, runtime runc; memory limits enforced",
      repair: null,
    });
  });

  it("says that memory limits are not enforced for rootless Podman on cgroup v1 (this passes: apps run)", () => {
    const status = podmanInfoStatus(
      0,
      info("overlay", "runc", { cgroupVersion: "v1", cgroupControllers: [] }),
      "",
    );
    assert.equal(status.ok, true);
    assert.match(
      status.detail,
      /^driver overlay, runtime runc; memory limits NOT enforced: rootless Podman on cgroup v1 ignores resource limits/,
    );
  });

  it("names the wrong driver and runtime", () => {
    const status = podmanInfoStatus(0, info("vfs", "crun"), "");
    assert.equal(status.ok, false);
    assert.equal(status.detail, "driver is vfs, want overlay; runtime is crun, want runc");
    assert.equal(status.repair, null);
  });

  it("wants a reset when storage made with vfs overrides a configured overlay (Podman 4.3's message)", () => {
    const stderr =
      'time="2026-11-27T17:20:42Z" level=error msg="User-selected graph driver \\"overlay\\" overwritten by graph driver \\"vfs\\" from database - delete libpod local files to resolve.  May prevent use of images created by other tools"\n';
    const status = podmanInfoStatus(0, info("vfs", "runc"), stderr);
    assert.equal(status.ok, false);
    assert.equal(status.repair, "reset");
    assert.match(status.detail, /initialised with vfs, configured driver is overlay/);
  });

  it("does not want a reset when the configuration (not the storage) is wrong", () => {
    const stderr =
      'msg="User-selected graph driver \\"vfs\\" overwritten by graph driver \\"overlay\\" from database"';
    const status = podmanInfoStatus(0, info("overlay", "runc"), stderr);
    assert.equal(status.ok, false);
    assert.equal(status.repair, null);
  });

  it("reports Podman's last words when it fails", () => {
    const status = podmanInfoStatus(125, "", "Error: cannot set up namespace\n");
    assert.deepEqual(status, {
      ok: false,
      detail: "podman info failed: Error: cannot set up namespace",
      repair: null,
    });
    assert.equal(podmanInfoStatus(0, "not json", "").ok, false);
  });

  it("wants a migrate, which keeps containers and images, when the pause process died (Podman 4.3's message)", () => {
    const stderr =
      'time="2026-12-07T13:40:35Z" level=error msg="invalid internal status, try resetting the pause process with \\"podman system migrate\\": could not find any running process: no such process"\n';
    const status = podmanInfoStatus(125, "", stderr);
    assert.equal(status.ok, false);
    assert.equal(status.repair, "migrate");
    assert.match(status.detail, /invalid internal status/);
  });
});

describe("testImageStatus", () => {
  const inspect = (labels: Record<string, string> | null) => JSON.stringify([{ Id: "x", Labels: labels }]);
  const hash = "a".repeat(64);

  it("passes when the label carries the current hash", () => {
    assert.deepEqual(testImageStatus(0, inspect({ [TEST_IMAGE_HASH_LABEL]: hash }), hash), {
      ok: true,
      detail: "present, build aaaaaaaaaaaa",
    });
  });

  it("reads labels from Config when not at the top", () => {
    const stdout = JSON.stringify([{ Config: { Labels: { [TEST_IMAGE_HASH_LABEL]: hash } } }]);
    assert.equal(testImageStatus(0, stdout, hash).ok, true);
  });

  it("fails when absent, unlabelled or stale", () => {
    assert.deepEqual(testImageStatus(125, "", hash), { ok: false, detail: "image not present" });
    assert.match(testImageStatus(0, inspect(null), hash).detail, /no build hash label/);
    assert.match(
      testImageStatus(0, inspect({ [TEST_IMAGE_HASH_LABEL]: "b".repeat(64) }), hash).detail,
      /stale/,
    );
  });
});

describe("quadletStatus", () => {
  it("passes when the dry run prints a [Service] section", () => {
    const stdout =
      "---probe.service---\n[X-Container]\nImage=x\n\n[Service]\nExecStart=/usr/bin/podman run x\n";
    assert.equal(quadletStatus(0, stdout, "").ok, true);
  });

  it("fails when not installed, failing or printing no service", () => {
    assert.deepEqual(quadletStatus(127, "", ""), { ok: false, detail: "not installed" });
    assert.match(
      quadletStatus(1, "", "quadlet: bad unit\n").detail,
      /dry run failed \(1\): quadlet: bad unit/,
    );
    assert.equal(quadletStatus(0, "---probe.service---\n", "").ok, false);
  });
});

describe("propagationStatus", () => {
  it("wants / shared", () => {
    assert.deepEqual(propagationStatus(0, "shared\n"), { ok: true, detail: "/ is shared" });
    assert.equal(propagationStatus(0, "shared,slave\n").ok, true);
    assert.deepEqual(propagationStatus(0, "private\n"), { ok: false, detail: "/ is private" });
    assert.equal(propagationStatus(1, "").ok, false);
  });
});

describe("worldReadWritable", () => {
  it("needs read and write for owner, group and others", () => {
    assert.equal(worldReadWritable(0o20666), true);
    assert.equal(worldReadWritable(0o777), true);
    assert.equal(worldReadWritable(0o600), false);
    assert.equal(worldReadWritable(0o664), false);
  });
});
