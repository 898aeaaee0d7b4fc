/**
 * Injecting the planned faults (faults.ts plans them, purely) and recording each one, injected or
 * not and why: a container SIGKILLed or removed behind the daemon's back, the Podman service
 * restarted, the daemon SIGKILLed while an operation runs.
 */
import type { DaemonControl } from "./daemon-process.ts";
import { describeFault, type PlannedFault } from "./faults.ts";
import type { GateApp } from "./gate-app.ts";
import type { GatePodman } from "./podman-service.ts";
import type { FaultRecord } from "./report.ts";
import { formatMs } from "./stats.ts";
import { sleep, type Witness } from "./witness.ts";

export class Chaos {
  readonly #podman: GatePodman;
  readonly #daemon: DaemonControl;
  readonly #witness: Witness;
  readonly #app: (id: string) => GateApp;
  readonly #progress: (line: string) => void;
  readonly records: FaultRecord[] = [];

  constructor(options: {
    podman: GatePodman;
    daemon: DaemonControl;
    witness: Witness;
    app: (id: string) => GateApp;
    progress: (line: string) => void;
  }) {
    this.#podman = options.podman;
    this.#daemon = options.daemon;
    this.#witness = options.witness;
    this.#app = options.app;
    this.#progress = options.progress;
  }

  /** Injects a fault planned between steps. */
  async inject(fault: PlannedFault): Promise<FaultRecord> {
    const at = Date.now();
    this.#progress(`      chaos: ${describeFault(fault)}`);
    try {
      switch (fault.kind) {
        case "container-kill":
        case "container-remove": {
          const app = this.#app(fault.app as string);
          const target = (await this.#witness.podman(app)).find((c) => c.key === fault.container);
          if (!target)
            return this.#record(
              fault,
              false,
              `no container ${app.id}/${fault.container} in Podman to hit`,
              at,
            );
          if (fault.kind === "container-kill") {
            if (target.state !== "running")
              return this.#record(
                fault,
                false,
                `${target.name} was ${target.state}, not running: nothing to kill`,
                at,
              );
            await this.#podman.client.containers.kill(target.id, "SIGKILL");
            return this.#record(fault, true, `SIGKILL to ${target.name} (${target.id.slice(0, 12)})`, at);
          }
          await this.#podman.client.containers.remove(target.id, { force: true, timeoutSeconds: 0 });
          return this.#record(
            fault,
            true,
            `removed ${target.name} (${target.id.slice(0, 12)}, ${target.state})`,
            at,
          );
        }
        case "podman-restart": {
          const { downMs } = await this.#podman.restart();
          return this.#record(
            fault,
            true,
            `Podman service on ${this.#podman.socketPath} stopped and started again (${formatMs(downMs)})`,
            at,
          );
        }
        case "daemon-sigkill":
          return this.#record(fault, false, "injected during the operation, not before", at);
      }
    } catch (error) {
      return this.#record(fault, false, `could not inject: ${(error as Error).message}`, at);
    }
  }

  /** The daemon SIGKILLed `fault.delayMs` after it accepted an operation, and started again. */
  async crashDuring(fault: PlannedFault, operationId: string): Promise<void> {
    await sleep(fault.delayMs ?? 0);
    const at = Date.now();
    try {
      const { downMs } = await this.#daemon.crash();
      this.#record(
        fault,
        true,
        `operation ${operationId} accepted; daemon SIGKILLed ${fault.delayMs} ms later and started again (${formatMs(downMs)})`,
        at,
      );
    } catch (error) {
      this.#record(
        fault,
        false,
        `the daemon could not be crashed and restarted: ${(error as Error).message}`,
        at,
      );
    }
  }

  #record(fault: PlannedFault, injected: boolean, detail: string, at: number): FaultRecord {
    const record: FaultRecord = {
      id: fault.id,
      kind: fault.kind,
      iteration: fault.iteration,
      step: fault.step,
      ...(fault.app ? { app: fault.app } : {}),
      ...(fault.container ? { container: fault.container } : {}),
      detail,
      injected,
      at,
    };
    this.records.push(record);
    if (!injected) this.#progress(`      chaos: NOT injected: ${detail}`);
    return record;
  }
}
