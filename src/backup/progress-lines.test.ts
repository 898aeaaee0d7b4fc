import assert from "node:assert/strict";
import { test } from "node:test";
import { NOTHING_SAID, nextProgressLine } from "./progress-lines.ts";
import type { BackupProgress } from "./restic.ts";

/** The lines logged for restic's status lines, in order, as the backup service logs them. */
function linesFor(statuses: Array<Partial<BackupProgress>>): string[] {
  const lines: string[] = [];
  let said = NOTHING_SAID;
  for (const status of statuses) {
    const progress: BackupProgress = {
      percent: 0,
      filesDone: 0,
      totalFiles: 0,
      bytesDone: 0,
      totalBytes: 0,
      secondsRemaining: undefined,
      ...status,
    };
    const next = nextProgressLine(progress, said);
    if (next === undefined) continue;
    lines.push(next.line);
    said = next.stage;
  }
  return lines;
}

test("before restic has counted anything the log says it scans, never '0% (0/0 files)'", () => {
  const lines = linesFor([{}, {}, { totalFiles: 4, totalBytes: 4096 }]);
  assert.deepEqual(lines, ["scanning what to back up …", "0% (0 of 4 files, 0 B of 4.0 KiB)"]);
  assert.ok(!lines.some((line) => /\b0 of 0\b|0\/0/.test(line)), lines.join("\n"));
});

test("then one line per quarter reached, however many status lines restic prints", () => {
  const known = { totalFiles: 4, totalBytes: 4096 };
  assert.deepEqual(
    linesFor([
      {},
      { ...known },
      { ...known, percent: 10, filesDone: 1, bytesDone: 410 },
      { ...known, percent: 30, filesDone: 1, bytesDone: 1229 },
      { ...known, percent: 40, filesDone: 2, bytesDone: 1638 },
      // restic's scanner found more: the percentage went down; no line said twice.
      { totalFiles: 8, totalBytes: 8192, percent: 20, filesDone: 2, bytesDone: 1638 },
      { totalFiles: 8, totalBytes: 8192, percent: 100, filesDone: 8, bytesDone: 8192 },
    ]),
    [
      "scanning what to back up …",
      "0% (0 of 4 files, 0 B of 4.0 KiB)",
      "30% (1 of 4 files, 1.2 KiB of 4.0 KiB)",
      "100% (8 of 8 files, 8.0 KiB of 8.0 KiB)",
    ],
  );
});

test("a backup whose first status already has totals starts with them (no scanning line)", () => {
  assert.deepEqual(linesFor([{ totalFiles: 1, totalBytes: 10, percent: 50, filesDone: 0, bytesDone: 5 }]), [
    "50% (0 of 1 files, 5 B of 10 B)",
  ]);
});
