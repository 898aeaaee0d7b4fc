/**
 * What the gate sees of an app, from both sides: what the daemon says (`package.get`) and what
 * Podman shows (one labelled list, and inspects for start times to the millisecond), turned into
 * the verdicts a step waits for. A cell judged by the daemon alone would believe a stop that left
 * its container running.
 */
import { CODES, type DaemonClient, RpcFailure } from "../cli/client.ts";
import { observe } from "../runtime/observe.ts";
import {
  type ApiFact,
  allOf,
  checkRemoved,
  checkRunning,
  checkStopped,
  type PodmanFact,
  type Verdict,
} from "./checks.ts";
import type { GateApp } from "./gate-app.ts";
import type { GatePodman } from "./podman-service.ts";
import { probeAll } from "./probe.ts";

const POLL_MS = 500;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A failure of a cell with its verdict (thrown inside a cell, caught by it). */
export class CellFailure extends Error {
  readonly verdict: Verdict;
  readonly operationId: string | undefined;
  constructor(reason: string, verdict: Verdict, operationId?: string) {
    super(reason);
    this.verdict = verdict;
    this.operationId = operationId;
  }
}

export class Witness {
  readonly #client: DaemonClient;
  readonly #podman: GatePodman;

  constructor(client: DaemonClient, podman: GatePodman) {
    this.#client = client;
    this.#podman = podman;
  }

  /** Polls `check` until it passes or the deadline; throws with the last verdict otherwise. */
  async until(
    deadline: number,
    check: () => Promise<Verdict>,
    reason: string,
    operationId?: string,
  ): Promise<Verdict> {
    let last: Verdict = { ok: false, expected: "?", observed: "not checked yet" };
    for (;;) {
      try {
        last = await check();
      } catch (error) {
        last = {
          ok: false,
          expected: last.expected,
          observed: `could not observe: ${(error as Error).message}`,
        };
      }
      if (last.ok) return last;
      if (Date.now() > deadline) throw new CellFailure(reason, last, operationId);
      await sleep(POLL_MS);
    }
  }

  /** The app as the daemon says it is; undefined when the daemon does not know it. */
  async api(app: GateApp): Promise<ApiFact> {
    try {
      const view = await this.#client.call("package.get", { id: app.installedAs });
      return {
        phase: view.phase,
        desired: view.desired,
        reason: view.reason,
        observedAt: view.observedAt,
        containers: view.containers.map((c) => ({
          key: c.key,
          containerId: c.containerId,
          state: c.state,
          health: c.health,
        })),
      };
    } catch (error) {
      if (error instanceof RpcFailure && error.code === CODES.notFound) return undefined;
      throw error;
    }
  }

  /** The app's containers, from one labelled list (states as Podman reports them). */
  async podman(app: GateApp): Promise<PodmanFact[]> {
    const observation = await observe(this.#podman.client);
    return observation.containers
      .filter((c) => c.appId === app.installedAs)
      .map((c) => ({
        id: c.id,
        name: c.name,
        key: c.key,
        state: c.state,
        startedAt: c.startedAt,
        backend: c.backend,
      }));
  }

  /**
   * The app's containers that keep running (not its completed jobs), with their exact start times
   * (inspect: the list rounds to seconds).
   */
  async snapshot(app: GateApp): Promise<PodmanFact[]> {
    const facts = (await this.podman(app)).filter((c) => c.key === undefined || app.keys.includes(c.key));
    const out: PodmanFact[] = [];
    for (const fact of facts) {
      const inspected = await this.#podman.client.containers.find(fact.id);
      if (!inspected) continue;
      const started = Date.parse(inspected.State.StartedAt);
      out.push({
        ...fact,
        state: inspected.State.Status,
        startedAt: Number.isNaN(started) || started <= 0 ? undefined : started,
      });
    }
    return out;
  }

  async ready(app: GateApp): Promise<Verdict> {
    const [api, podman] = await Promise.all([this.api(app), this.podman(app)]);
    return checkRunning(app.keys, podman, api);
  }

  async reach(app: GateApp): Promise<Verdict> {
    const result = await probeAll(app.targets);
    return {
      ok: result.ok,
      expected: app.targets
        .map((t) =>
          t.kind === "tcp"
            ? `TCP connect to ${t.hostPort}`
            : `${t.protocol} ${t.hostPort}${t.path} ${t.status ?? "2xx/3xx"}`,
        )
        .join("; "),
      observed: result.observed,
    };
  }

  async readyAndReachable(app: GateApp): Promise<Verdict> {
    const ready = await this.ready(app);
    if (!ready.ok || app.targets.length === 0) return ready;
    return allOf(ready, await this.reach(app));
  }

  async stopped(app: GateApp): Promise<Verdict> {
    const [api, podman] = await Promise.all([this.api(app), this.podman(app)]);
    return checkStopped(app.keys, podman, api);
  }

  async removed(app: GateApp): Promise<Verdict> {
    const [api, podman] = await Promise.all([this.api(app), this.podman(app)]);
    return checkRemoved(podman, api);
  }

  /** Whether the daemon has looked at the app since `since` (its boot: its first look comes before it answers). */
  async observedSince(app: GateApp, since: number, what: string): Promise<Verdict> {
    const api = await this.api(app);
    const fresh = api?.observedAt !== undefined && api?.observedAt !== null && api.observedAt >= since;
    return {
      ok: fresh,
      expected: `observed by the daemon since ${what}`,
      observed: fresh ? `observed since ${what}` : `not observed since ${what} yet`,
    };
  }
}
