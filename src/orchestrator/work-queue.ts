/**
 * A deduplicating work queue keyed by app: an app queued while queued is queued once; an app queued
 * while its worker runs is run again after it (the new request may carry news); at most one worker
 * per app, and at most `concurrency` workers in all.
 */
export class WorkQueue {
  readonly #concurrency: number;
  readonly #work: (key: string) => Promise<void>;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #queued: string[] = [];
  readonly #queuedSet = new Set<string>();
  readonly #running = new Set<string>();
  readonly #again = new Set<string>();
  #idle: Array<() => void> = [];
  #stopped = false;

  constructor(options: {
    concurrency: number;
    work: (key: string) => Promise<void>;
    onError: (key: string, error: unknown) => void;
  }) {
    this.#concurrency = options.concurrency;
    this.#work = options.work;
    this.#onError = options.onError;
  }

  enqueue(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#again.add(key);
      return;
    }
    if (this.#queuedSet.has(key)) return;
    this.#queued.push(key);
    this.#queuedSet.add(key);
    this.#pump();
  }

  get size(): number {
    return this.#queued.length + this.#running.size;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking work; resolves when the workers in flight are done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queued.length = 0;
    this.#queuedSet.clear();
    this.#again.clear();
    await this.idle();
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency) {
      const index = this.#queued.findIndex((key) => !this.#running.has(key));
      if (index < 0) break;
      const [key] = this.#queued.splice(index, 1) as [string];
      this.#queuedSet.delete(key);
      this.#running.add(key);
      void this.#work(key)
        .catch((error) => this.#onError(key, error))
        .finally(() => {
          this.#running.delete(key);
          if (this.#again.delete(key)) this.enqueue(key);
          this.#pump();
          if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }
}
