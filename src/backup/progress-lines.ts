/**
 * The operation log's lines for a backup's progress. restic reports it about once a second; the
 * log keeps a few lines: one while restic is still finding what to back up, then one per quarter.
 * Until restic's scanner has counted anything it reports 0 of 0 files and bytes: that is said as
 * scanning, never as "0% (0/0 files)", which reads as a backup of nothing. Pure.
 */
import { formatBytes } from "../orchestrator/update.ts";
import type { BackupProgress } from "./restic.ts";

/** Where a backup's log stands before its first line (see `nextProgressLine`). */
export const NOTHING_SAID = -2;

/** -1 while restic has counted nothing yet, else the quarter reached (0 to 4). */
function stageOf(progress: BackupProgress): number {
  if (progress.totalFiles === 0 && progress.totalBytes === 0) return -1;
  return Math.floor(Math.min(100, Math.max(0, progress.percent)) / 25);
}

/**
 * The line to log for `progress` when it reaches a stage beyond `said` (the stage of the last line
 * logged, `NOTHING_SAID` at first), with that stage; undefined when it says nothing new.
 */
export function nextProgressLine(
  progress: BackupProgress,
  said: number,
): { line: string; stage: number } | undefined {
  const stage = stageOf(progress);
  if (stage <= said) return undefined;
  if (stage < 0) return { line: "scanning what to back up …", stage };
  const files = `${progress.filesDone} of ${progress.totalFiles} files`;
  const size = `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.totalBytes)}`;
  return { line: `${progress.percent}% (${files}, ${size})`, stage };
}
