import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkCredentials, displayLocation, parseLocation, TargetError, Targets } from "./targets.ts";

describe("target locations", () => {
  test("a directory is canonical: absolute, no trailing slash, no ..", () => {
    assert.deepEqual(parseLocation("/mnt/backup/archy/"), { kind: "local", location: "/mnt/backup/archy" });
    assert.deepEqual(parseLocation("/mnt/x/../backup"), { kind: "local", location: "/mnt/backup" });
    assert.throws(() => parseLocation("backup"), /not an absolute directory path/);
    assert.throws(() => parseLocation("/"), /not a directory of its own/);
  });

  test("restic's remote kinds are accepted; others are refused with the list", () => {
    assert.equal(parseLocation("sftp:user@host:/srv/restic").kind, "sftp");
    assert.equal(parseLocation("rest:http://127.0.0.1:8000/").kind, "rest");
    assert.equal(parseLocation("s3:s3.amazonaws.com/bucket").kind, "s3");
    assert.throws(() => parseLocation("ftp:host/x"), /not a kind of target/);
    assert.throws(() => parseLocation("s3:"), /names no s3 repository/);
  });

  test("a login inside a URL is never shown", () => {
    assert.equal(displayLocation("rest:https://u:hunter2-long@h/r"), "rest:https://u:***@h/r");
  });

  test("credentials: only the names a kind takes (an allow-list)", () => {
    const s3 = { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" };
    assert.deepEqual(checkCredentials("s3", s3), s3);
    assert.throws(
      () => checkCredentials("s3", { AWS_ACCESS_KEY_ID: "a" }),
      /^TargetError: credentials: an s3 target needs AWS_SECRET_ACCESS_KEY; give it as NAME=VALUE lines in a file \(archy backup targets add NAME s3:… --credentials-file FILE\)$/,
    );
    assert.throws(
      () => checkCredentials("b2", {}),
      /a b2 target needs B2_ACCOUNT_ID and B2_ACCOUNT_KEY; give them/,
    );
    assert.deepEqual(checkCredentials("sftp", {}), {});
    assert.throws(() => checkCredentials("s3", { LD_PRELOAD: "/x.so" }), /not a credential of an s3 target/);
    assert.throws(() => checkCredentials("local", { AWS_ACCESS_KEY_ID: "a" }), TargetError);
  });
});

describe("Targets on disk", () => {
  test("a new target's key is generated, kept 0600 in a 0700 directory, and learnt by the mask", async () => {
    const root = join(mkdtempSync(join(tmpdir(), "archy-targets-")), "targets");
    const learnt: string[] = [];
    const targets = new Targets(root, (_name, value) => learnt.push(value));
    const added = await targets.add({ name: "usb", location: "/mnt/usb/archy" }, 1);
    assert.equal(added.generated, true);
    assert.equal(added.key.length, 43);
    const dir = join(root, "usb");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "key")).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, "key"), "utf8").trim(), added.key);
    assert.ok(learnt.includes(added.key));
    assert.deepEqual((await targets.resolve(undefined)).name, "usb");
    await assert.rejects(targets.add({ name: "usb", location: "/mnt/other" }, 2), /exists already/);
    await assert.rejects(targets.add({ name: "again", location: "/mnt/usb/archy/" }, 2), /already uses/);
    await assert.rejects(targets.add({ name: "Bad_Name", location: "/mnt/b" }, 2), /not a target name/);
    await targets.remove("usb");
    await assert.rejects(targets.resolve("usb"), /no backup target named usb/);
  });
});
