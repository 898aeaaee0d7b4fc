import assert from "node:assert/strict";
import { test } from "node:test";
import { targetFailureMessage } from "./target-failure.ts";

test("a directory the daemon's user cannot write: the message names the user and the commands that give it the directory", () => {
  assert.equal(
    targetFailureMessage(
      "usb",
      "/mnt/usb/archy",
      "restic init failed: create repository at /mnt/usb/archy failed: mkdir /mnt/usb/archy: permission denied",
      "archipelago",
    ),
    "target usb: restic init failed: create repository at /mnt/usb/archy failed: mkdir /mnt/usb/archy: permission denied (the daemon's user archipelago cannot write there: give it the directory, as root: mkdir -p /mnt/usb/archy && chown -R archipelago: /mnt/usb/archy; then try again)",
  );
});

test("a remote target's 'permission denied' is the server's: no local commands are suggested", () => {
  const message = targetFailureMessage("nas", "sftp:u@nas:/srv/r", "sftp: permission denied", "archipelago");
  assert.equal(message, "target nas: sftp: permission denied");
});

test("a wrong key and a missing repository keep their advice", () => {
  assert.match(
    targetFailureMessage("usb", "/m", "wrong password or no key found", "a"),
    /not the repository's key\)$/,
  );
  assert.match(
    targetFailureMessage(
      "usb",
      "/m",
      "unable to open config file: stat /m/config: no such file or directory",
      "a",
    ),
    /\(is the disk mounted, the server reachable\?\)$/,
  );
});
