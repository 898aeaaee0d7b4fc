/** A backup's progress in words (the Backups page). Pure. */
import { bytes, duration } from "./units.ts";

/** How far a backup has got, as the daemon's `backup-progress` events report it. */
export type BackupProgressFigures = {
  percent: number;
  filesDone: number;
  totalFiles: number;
  bytesDone: number;
  totalBytes: number;
  secondsRemaining?: number | undefined;
};

/**
 * Until restic has counted anything it reports 0 of 0 files and bytes: the backup is then still
 * finding what to back up (its progress bar has no value yet), not a backup of nothing.
 */
export function backupScanning(progress: BackupProgressFigures): boolean {
  return progress.totalFiles === 0 && progress.totalBytes === 0;
}

/** "42% · 120 of 300 files · 1.2 MB of 3.4 MB · 5 s left", or that it is still scanning. */
export function backupProgressWords(progress: BackupProgressFigures): string {
  if (backupScanning(progress)) return "Scanning what to back up …";
  const percent = Math.min(100, Math.max(0, progress.percent));
  const left =
    progress.secondsRemaining !== undefined ? ` · ${duration(progress.secondsRemaining * 1000)} left` : "";
  return `${Math.round(percent)}% · ${progress.filesDone} of ${progress.totalFiles} files · ${bytes(progress.bytesDone)} of ${bytes(progress.totalBytes)}${left}`;
}
