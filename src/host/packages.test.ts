import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { installCommands, missingPackages, REQUIRED_PACKAGES } from "./packages.ts";

describe("missingPackages", () => {
  it("treats ii and hi as installed, everything else (and absence) as missing", () => {
    const output = [
      "podman\tii \t4.3.1+ds1-8+deb12u1+b3",
      "runc\thi \t1.1.5",
      "crun\tun \t",
      "uidmap\trc \t1:4.13",
      "curl:amd64\tii \t7.88.1",
      "",
    ].join("\n");
    assert.deepEqual(missingPackages(output, ["podman", "runc", "crun", "uidmap", "curl", "debootstrap"]), [
      "crun",
      "uidmap",
      "debootstrap",
    ]);
  });

  it("reports everything missing for empty output", () => {
    assert.deepEqual(missingPackages("", REQUIRED_PACKAGES), [...REQUIRED_PACKAGES]);
  });
});

describe("installCommands", () => {
  it("does nothing (not even apt-get update) when nothing is missing", () => {
    assert.deepEqual(installCommands([]), []);
  });

  it("updates, then installs non-interactively without recommends", () => {
    assert.deepEqual(installCommands(["podman", "curl"]), [
      ["apt-get", "update"],
      [
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "podman",
        "curl",
      ],
    ]);
  });

  it("with systemd, stops and disables the registry service Debian starts at install (a node never serves an open registry on port 5000)", () => {
    const commands = installCommands(["skopeo", "docker-registry"], true);
    assert.deepEqual(commands.at(-1), ["systemctl", "disable", "--now", "docker-registry.service"]);
    assert.equal(installCommands(["skopeo", "docker-registry"], false).length, 2);
    assert.equal(installCommands(["skopeo"], true).length, 2);
  });
});

describe("REQUIRED_PACKAGES", () => {
  it("has restic, the backup engine, so backups work on a node set up by the doctor alone", () => {
    assert.ok((REQUIRED_PACKAGES as readonly string[]).includes("restic"));
  });

  it("has runc (crun fails on hybrid cgroups) and never crun", () => {
    assert.ok(REQUIRED_PACKAGES.includes("runc"));
    assert.ok(!(REQUIRED_PACKAGES as readonly string[]).includes("crun"));
  });
});
