import assert from "node:assert/strict";
import { test } from "node:test";
import { backupProgressWords, backupScanning } from "../../web/src/backup-progress-words.ts";

const start = { percent: 0, filesDone: 0, totalFiles: 0, bytesDone: 0, totalBytes: 0 };

test("a backup restic has not counted anything of yet shows it scanning, not '0% · 0 of 0 files'", () => {
  assert.equal(backupScanning(start), true);
  assert.equal(backupProgressWords(start), "Scanning what to back up …");
});

test("once restic has totals: percent, files, bytes and the time left", () => {
  const known = {
    percent: 42.4,
    filesDone: 1,
    totalFiles: 3,
    bytesDone: 1500,
    totalBytes: 3_000_000,
    secondsRemaining: 5,
  };
  assert.equal(backupScanning(known), false);
  assert.equal(backupProgressWords(known), "42% · 1 of 3 files · 1.5 KB of 3.0 MB · 5 s left");
  assert.equal(
    backupProgressWords({ ...start, totalFiles: 2, totalBytes: 10 }),
    "0% · 0 of 2 files · 0 B of 10 B",
  );
});
