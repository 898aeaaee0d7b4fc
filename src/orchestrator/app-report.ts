/**
 * How the reconciler's parts tell the operator about an app: its phase and reason in the store
 * (an event when either changed), lines in the daemon's log and the operation in progress, and
 * operations finished.
 */
import { endsWithGeneration, type Logger, type Note, type Phase, type ReconcilerEvent } from "./model.ts";
import type { AppRow, Store } from "./store.ts";

export class AppReport {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #onEvent: (event: ReconcilerEvent) => void;

  constructor(options: {
    store: Store;
    log: Logger;
    clock: () => number;
    onEvent: (event: ReconcilerEvent) => void;
  }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#clock = options.clock;
    this.#onEvent = options.onEvent;
  }

  /** Log lines of a reconcile go to the operation active when each line is written: one recorded
   * while the pass was already running gets the lines of the work done for it. */
  note(app: Pick<AppRow, "id">): Note {
    return (level, message) => {
      this.#log[level](`${app.id}: ${message}`);
      const operation = this.#store.activeOperations(app.id).at(-1);
      if (!operation) return;
      const line = this.#store.appendLog(operation.id, level, message, this.#clock());
      this.#onEvent({ type: "log", appId: app.id, line });
    };
  }

  status(
    app: Pick<AppRow, "id">,
    phase: Phase,
    reason: string | undefined,
    extra: Parameters<Store["updateStatus"]>[1] = { phase },
  ): void {
    const current = this.#store.getApp(app.id);
    this.#store.updateStatus(app.id, { ...extra, phase, reason }, this.#clock());
    if (current?.phase !== phase || current?.reason !== reason)
      this.#onEvent({ type: "app", appId: app.id, phase, reason });
  }

  /**
   * The app's removal is over: it is forgotten and the operations that removed it succeed, at once
   * (see `Store.forgetApp`). False, and nothing changed, if its intent moved on meanwhile.
   */
  removed(app: Pick<AppRow, "id" | "generation">): boolean {
    const ended = this.#store.forgetApp(app.id, app.generation, this.#clock());
    if (!ended) return false;
    for (const operation of ended)
      this.#onEvent({ type: "operation", operationId: operation.id, appId: app.id, state: "succeeded" });
    this.#onEvent({ type: "app-removed", appId: app.id });
    return true;
  }

  /** The pending operations of an app are taken up by this pass. */
  startOperations(app: Pick<AppRow, "id">): void {
    for (const operation of this.#store.activeOperations(app.id)) {
      if (operation.state !== "pending") continue;
      this.#store.setOperationState(operation.id, "running", this.#clock());
      this.#onEvent({ type: "operation", operationId: operation.id, appId: app.id, state: "running" });
    }
  }

  /** Ends the operations in flight up to the app's generation (a newer one waits for its own pass). */
  finishOperations(
    app: Pick<AppRow, "id" | "generation">,
    state: "succeeded" | "failed",
    error?: string,
  ): void {
    for (const operation of this.#store.activeOperations(app.id))
      if (endsWithGeneration(operation, app.generation)) this.endOperation(app, operation.id, state, error);
  }

  endOperation(
    app: Pick<AppRow, "id">,
    operationId: string,
    state: "succeeded" | "failed",
    error: string | undefined,
  ): void {
    this.#store.setOperationState(operationId, state, this.#clock(), error);
    this.#onEvent({ type: "operation", operationId, appId: app.id, state, error });
  }
}
