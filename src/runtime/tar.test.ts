import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { tar } from "./tar.ts";

test("GNU tar extracts what the writer produces, names, modes and contents intact", () => {
  const dir = mkdtempSync(join(tmpdir(), "archy-tar-"));
  try {
    const long = `${"d".repeat(60)}/${"e".repeat(60)}/file.txt`;
    const archive = tar([
      { name: "www", type: "directory", mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 },
      {
        name: "www/index.html",
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        data: Buffer.from("<p>hi</p>\n"),
      },
      {
        name: "run.sh",
        type: "file",
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        data: Buffer.from("#!/bin/sh\n"),
      },
      {
        name: long,
        type: "file",
        mode: 0o600,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        data: Buffer.alloc(1000, 1),
      },
    ]);
    assert.equal(archive.length % 512, 0);
    writeFileSync(join(dir, "a.tar"), archive);
    execFileSync("tar", ["-xf", "a.tar", "--no-same-owner"], { cwd: dir });
    assert.equal(readFileSync(join(dir, "www/index.html"), "utf8"), "<p>hi</p>\n");
    assert.equal(statSync(join(dir, "run.sh")).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(dir, long)).length, 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("unsafe entry names are refused", () => {
  for (const name of ["/etc/passwd", "../x", "a/../../b"])
    assert.throws(
      () => tar([{ name, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, data: Buffer.from("x") }]),
      /unsafe/,
    );
});
