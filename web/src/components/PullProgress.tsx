/**
 * The images an install or update pulls, a progress line each, from the daemon's `pull` events for
 * that operation (src/client/pull-progress.ts): nothing when it pulls nothing.
 */
import { useEffect, useState } from "react";
import { imageProgress, type Pulls, withPull } from "../../../src/client/pull-progress.ts";
import { stream } from "../api.ts";
import { bytes, duration } from "../units.ts";

export function PullProgress({ operationId }: { operationId: string }) {
  const [pulls, setPulls] = useState<Pulls>(new Map());
  useEffect(() => {
    setPulls(new Map());
    return stream.onEvent((event) => {
      if (event.type === "pull" && event.operationId === operationId) setPulls((all) => withPull(all, event));
    });
  }, [operationId]);
  const images = imageProgress(pulls);
  if (images.length === 0) return null;
  return (
    <ul className="pulls" aria-label="Images">
      {images.map((p) => (
        <li key={p.image} className="progress-line" data-image={p.image}>
          <progress
            max={p.bytesTotal ?? 1}
            value={p.done ? (p.bytesTotal ?? 1) : Math.min(p.bytesDone, p.bytesTotal ?? 0)}
            aria-label={`Pulling ${p.image}`}
          />
          <span className="small break">
            <code>{p.image}</code>{" "}
            {p.done
              ? `pulled · ${bytes(p.bytesDone)}`
              : [
                  `${bytes(p.bytesDone)}${p.bytesTotal !== undefined ? ` of ${bytes(p.bytesTotal)}` : ""}`,
                  p.bytesPerSecond !== undefined ? `${bytes(p.bytesPerSecond)}/s` : undefined,
                  p.secondsLeft !== undefined ? `${duration(p.secondsLeft * 1000)} left` : undefined,
                  `${p.layersDone} of ${p.layers} layers`,
                ]
                  .filter(Boolean)
                  .join(" · ")}
          </span>
        </li>
      ))}
    </ul>
  );
}
