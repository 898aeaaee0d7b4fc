/**
 * An image pull's progress as an operator reads it, from the daemon's `pull` events (one per layer
 * update): per image, its bytes done of the bytes known, how fast, how long still, its layers done.
 * Pure: a page or a terminal folds the events in with `withPull` and shows `imageProgress`.
 */
import type { StreamEvent } from "../api/events.ts";

export type PullEvent = Extract<StreamEvent, { type: "pull" }>;
type Layer = Pick<PullEvent, "status" | "current" | "total" | "bytesPerSecond" | "secondsLeft">;

/** The last report of every layer, by image then layer. */
export type Pulls = ReadonlyMap<string, ReadonlyMap<string, Layer>>;

export type ImageProgress = {
  image: string;
  layers: number;
  layersDone: number;
  /** Bytes received, a finished layer counted whole. */
  bytesDone: number;
  /** The sum of the sizes known so far; undefined before any is. */
  bytesTotal: number | undefined;
  /** The layers downloading now, together; undefined while none has a rate yet. */
  bytesPerSecond: number | undefined;
  /** The longest of the layers still downloading (they download side by side). */
  secondsLeft: number | undefined;
  done: boolean;
};

/** `pulls` with this event's layer report in place of its last one (a new map: state for React). */
export function withPull(pulls: Pulls, event: PullEvent): Pulls {
  const layers = new Map(pulls.get(event.image));
  const { status, current, total, bytesPerSecond, secondsLeft } = event;
  layers.set(event.layer, { status, current, total, bytesPerSecond, secondsLeft });
  return new Map(pulls).set(event.image, layers);
}

const finished = (layer: Layer) => layer.status === "present" || layer.status === "done";

export function imageProgress(pulls: Pulls): ImageProgress[] {
  return [...pulls].map(([image, layers]) => {
    const all = [...layers.values()];
    const downloading = all.filter((layer) => layer.status === "downloading");
    const totals = all.flatMap((layer) => (layer.total === undefined ? [] : [layer.total]));
    const rates = downloading.flatMap((l) => (l.bytesPerSecond === undefined ? [] : [l.bytesPerSecond]));
    const lefts = downloading.flatMap((l) => (l.secondsLeft === undefined ? [] : [l.secondsLeft]));
    return {
      image,
      layers: all.length,
      layersDone: all.filter(finished).length,
      bytesDone: all.reduce(
        (sum, layer) => sum + (finished(layer) ? (layer.total ?? layer.current ?? 0) : (layer.current ?? 0)),
        0,
      ),
      bytesTotal: totals.length > 0 ? totals.reduce((a, b) => a + b, 0) : undefined,
      bytesPerSecond: rates.length > 0 ? rates.reduce((a, b) => a + b, 0) : undefined,
      secondsLeft: lefts.length > 0 ? Math.max(...lefts) : undefined,
      done: all.length > 0 && all.every(finished),
    };
  });
}
