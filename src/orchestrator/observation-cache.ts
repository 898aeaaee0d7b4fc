/**
 * One observation shared by every worker: a pass over many unchanged apps costs one engine call.
 * It is discarded after any action or event (`invalidate`), and a call in flight is shared only if
 * nothing was done since it was sent.
 */
import type { Manifest } from "../manifest/schema.ts";
import type { LegacyName, Observation, Runtime } from "../runtime/runtime.ts";

export class ObservationCache {
  readonly #runtime: Runtime;
  readonly #clock: () => number;
  readonly #legacyNames: () => Map<string, LegacyName>;
  #observation: Observation | undefined;
  #last: Observation | undefined;
  #inFlight: { call: Promise<Observation>; epoch: number } | undefined;
  #epoch = 0;
  /** The legacy names the current observation looked for. */
  #legacySeen = "";

  constructor(options: {
    runtime: Runtime;
    clock: () => number;
    /** The legacy container names the installed apps adopt (see `legacyNamesOf`). */
    legacyNames: () => Map<string, LegacyName>;
  }) {
    this.#runtime = options.runtime;
    this.#clock = options.clock;
    this.#legacyNames = options.legacyNames;
  }

  /** The most recent observation, even one invalidated since (the health monitor's). */
  get last(): Observation | undefined {
    return this.#observation ?? this.#last;
  }

  /**
   * A shared observation no older than `maxAgeMs`; concurrent callers share one engine call. A call
   * already in flight is only shared if nothing was done since it was sent (same epoch): a worker
   * that has just created a container must not be handed a list taken before it, or it would create
   * the container again (a name conflict, which is terminal).
   */
  async get(maxAgeMs: number): Promise<Observation> {
    const now = this.#clock();
    // Legacy names come from the installed apps' manifests: a list taken before an app that adopts
    // was installed has not looked for its legacy containers (the worker would create a second one).
    const legacy = this.#legacyNames();
    const names = [...legacy.keys()].sort().join("\n");
    if (this.#legacySeen !== names) this.invalidate();
    this.#legacySeen = names;
    if (this.#observation && now - this.#observation.at <= maxAgeMs) return this.#observation;
    if (!this.#inFlight || this.#inFlight.epoch !== this.#epoch) {
      const epoch = this.#epoch;
      const call: Promise<Observation> = this.#runtime
        .observe(legacy)
        .then((observation) => {
          if (epoch === this.#epoch) this.#observation = observation;
          this.#last = observation;
          return observation;
        })
        .finally(() => {
          if (this.#inFlight?.call === call) this.#inFlight = undefined;
        });
      this.#inFlight = { call, epoch };
    }
    return this.#inFlight.call;
  }

  /** Something was done: observations taken (or sent) before now are stale. */
  invalidate(): void {
    this.#observation = undefined;
    this.#epoch++;
  }
}

/**
 * Legacy container names of installed apps, so adoption finds containers without the platform's
 * labels. A name two apps list (installs refuse that now; earlier ones did not) is adopted by neither.
 */
export function legacyNamesOf(
  installed: ReadonlyArray<{ id: string; manifest: Manifest | undefined }>,
): Map<string, LegacyName> {
  const legacy = new Map<string, LegacyName>();
  const ambiguous = new Set<string>();
  for (const { id, manifest } of installed)
    for (const [key, names] of Object.entries(manifest?.adoption.containers ?? {}))
      for (const name of names) {
        const other = legacy.get(name);
        if (other && other.appId !== id) ambiguous.add(name);
        legacy.set(name, { appId: id, key });
      }
  for (const name of ambiguous) legacy.delete(name);
  return legacy;
}
