/**
 * How far a backup has got (a backup, or the copy a restore makes of the data it replaces), from
 * the daemon's `backup-progress` events for that operation: nothing until the first one arrives.
 */
import { useEffect, useState } from "react";
import type { StreamEvent } from "../../../src/client/events.ts";
import { stream } from "../api.ts";
import { backupProgressWords, backupScanning } from "../backup-progress-words.ts";

type Progress = Extract<StreamEvent, { type: "backup-progress" }>;

export function BackupProgress({ operationId }: { operationId: string }) {
  const [progress, setProgress] = useState<Progress | undefined>();
  useEffect(() => {
    setProgress(undefined);
    return stream.onEvent((event) => {
      if (event.type === "backup-progress" && event.operationId === operationId) setProgress(event);
    });
  }, [operationId]);
  if (!progress) return null;
  const percent = Math.min(100, Math.max(0, progress.percent));
  return (
    <div className="progress-line" data-testid="backup-progress">
      <progress
        max={100}
        value={backupScanning(progress) ? undefined : percent}
        aria-label={`Backup of ${progress.appId}`}
      />
      <span className="small">{backupProgressWords(progress)}</span>
    </div>
  );
}
