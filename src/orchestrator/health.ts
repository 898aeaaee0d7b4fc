/**
 * Health probing by the daemon itself (Podman's health timers need systemd). Probes run inside the
 * container (the same shell probes the renderers give Podman), so unpublished ports work too. The
 * verdict has hysteresis: `retries` consecutive failures make a container unhealthy, one success
 * makes it healthy, and failures during its start period do not count — a slow, loaded node does
 * not flap.
 *
 * A probe inside the container cannot see what its users see from outside: a published port whose
 * host side is gone (rootless Podman's port forwarder died, or was never set up: the gate found a
 * start race that did that) while the process inside serves. So a probe that passes inside is
 * followed by a TCP connect to each published TCP port on the host; one that refuses fails the
 * probe, and the usual hysteresis restarts the container, which sets its forwarding up again.
 *
 * A probe Podman could not run is no verdict on the app: Podman not answering (restarting, or the
 * daemon's last observation is older than a container's stop), or the process not even started
 * within the probe's time limit on an overloaded node. Counted as failures, those turned healthy
 * containers unhealthy on a busy node (load ~35 in the field; a Podman restart of a few seconds in
 * the chaos tests) and the reconciler restarted them, which loads the node more. So such a probe
 * leaves the verdict and the count of failures as they were, and the next one comes after the
 * interval as usual. The time limit is the app's own from the moment its probe runs (see
 * `Containers.probe`); it is not stretched by the node's load average, which would also delay
 * finding a hung app on a node that is busy all the time.
 */
import { connectAddress, publishedBind } from "../manifest/access.ts";
import type { HealthSpec, Manifest } from "../manifest/schema.ts";
import { probeCommand } from "../render/health.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import type { Health } from "./planner.ts";

export type ProbeRecord = {
  containerId: string;
  startedAt: number;
  health: Health;
  consecutiveFailures: number;
  lastProbeAt: number | undefined;
  lastOutput: string | undefined;
  /** Probes in a row that Podman could not run, and why the last one could not. */
  notRun: number;
  lastNotRun: string | undefined;
};

/** What one probe showed: the app passed or failed it, or it could not run (no verdict). */
export type ProbeOutcome = { outcome: "pass" | "fail" | "not-run"; output: string };

/** The verdict after one probe. Pure. */
export function afterProbe(
  record: ProbeRecord,
  { outcome, output }: ProbeOutcome,
  spec: HealthSpec,
  now: number,
): ProbeRecord {
  if (outcome === "not-run")
    return { ...record, lastProbeAt: now, notRun: record.notRun + 1, lastNotRun: output };
  const ran = { lastProbeAt: now, lastOutput: output, notRun: 0, lastNotRun: undefined };
  if (outcome === "pass") return { ...record, ...ran, health: "healthy", consecutiveFailures: 0 };
  const inStartPeriod = now - record.startedAt < spec.start_period;
  const failures = inStartPeriod ? 0 : record.consecutiveFailures + 1;
  const health: Health =
    failures >= spec.retries ? "unhealthy" : record.health === "healthy" ? "healthy" : "starting";
  return { ...record, ...ran, health, consecutiveFailures: failures };
}

/**
 * Whether two start times are the same start. Podman's list gives whole seconds, an inspect gives
 * nanoseconds, and the reconciler uses the inspect's time right after a restart request (to tell a
 * start before the request from one after it, in the same second): the health records come from the
 * list. Compared exactly, a container restarted in the second of its restart request stayed
 * `starting` for ever — the production gate found it.
 */
export function sameStart(a: number, b: number): boolean {
  return Math.floor(a / 1000) === Math.floor(b / 1000);
}

/** Whether a probe is due. Pure. */
export function probeDue(record: ProbeRecord | undefined, spec: HealthSpec, now: number): boolean {
  return record?.lastProbeAt === undefined || now - record.lastProbeAt >= spec.interval;
}

export type ProbeRunner = (
  container: ObservedContainer,
  command: string[],
  timeoutMs: number,
) => Promise<ProbeOutcome>;

/** A published TCP port as the host reaches it. */
export type HostEndpoint = { address: string; port: number };

/**
 * The host ends of container `key`'s published TCP ports, as a client on the node connects to them
 * (a wildcard bind is reached on loopback). UDP has no connect to check. Pure.
 */
export function publishedEndpoints(manifest: Manifest, key: string): HostEndpoint[] {
  return (manifest.containers[key]?.ports ?? []).flatMap((p) =>
    p.host === undefined || p.protocol !== "tcp"
      ? []
      : [{ address: connectAddress(publishedBind(manifest, key, p)), port: p.host }],
  );
}

/** Whether something accepts a TCP connection at the endpoint within the time limit. */
export type HostReach = (endpoint: HostEndpoint, timeoutMs: number) => Promise<boolean>;

export type Probed = {
  appId: string;
  key: string;
  container: ObservedContainer;
  spec: HealthSpec;
  /** Checked from the host after a probe that passed inside the container. */
  published: HostEndpoint[];
};

export class HealthMonitor {
  readonly #records = new Map<string, ProbeRecord>();
  readonly #running = new Set<string>();
  readonly #probe: ProbeRunner;
  readonly #reach: HostReach;
  readonly #onChange: (appId: string) => void;
  readonly #onProbe: (outcome: ProbeOutcome["outcome"]) => void;
  readonly #clock: () => number;

  constructor(options: {
    probe: ProbeRunner;
    reach: HostReach;
    onChange: (appId: string) => void;
    /** Sees the outcome of every probe (metrics). */
    onProbe?: (outcome: ProbeOutcome["outcome"]) => void;
    clock?: () => number;
  }) {
    this.#probe = options.probe;
    this.#reach = options.reach;
    this.#onChange = options.onChange;
    this.#onProbe = options.onProbe ?? (() => {});
    this.#clock = options.clock ?? Date.now;
  }

  /** The in-container probe, then (when it passed) the published ports from the host. */
  async #check(t: Probed): Promise<ProbeOutcome> {
    const inside = await this.#probe(t.container, probeCommand(t.spec), t.spec.timeout).catch(
      (error: Error): ProbeOutcome => ({ outcome: "not-run", output: error.message }),
    );
    if (inside.outcome !== "pass") return inside;
    for (const endpoint of t.published)
      if (!(await this.#reach(endpoint, t.spec.timeout).catch(() => false)))
        return {
          outcome: "fail",
          output: `the probe passes inside the container, but its published port ${endpoint.address}:${endpoint.port} refuses connections on the host (its port forwarding is gone)`,
        };
    return inside;
  }

  /** The current verdict: a running container without a health check counts as healthy. */
  healthOf(container: ObservedContainer | undefined, spec: HealthSpec | undefined): Health {
    if (container?.state !== "running") return "unknown";
    if (!spec) return "healthy";
    const record = this.#records.get(container.id);
    if (!record || !sameStart(record.startedAt, container.startedAt ?? 0)) return "starting";
    return record.health;
  }

  lastOutput(containerId: string): string | undefined {
    return this.#records.get(containerId)?.lastOutput;
  }

  /** Why the container's probes could not run lately (none ran since), if so. */
  notRun(containerId: string): { count: number; reason: string } | undefined {
    const record = this.#records.get(containerId);
    return record?.notRun ? { count: record.notRun, reason: record.lastNotRun ?? "" } : undefined;
  }

  /** Probes every due container (each at most once at a time); forgets containers no longer seen. */
  async tick(targets: Probed[]): Promise<void> {
    const now = this.#clock();
    const live = new Set(targets.map((t) => t.container.id));
    for (const id of this.#records.keys()) if (!live.has(id)) this.#records.delete(id);
    await Promise.all(
      targets
        .filter((t) => t.container.state === "running" && !this.#running.has(t.container.id))
        .map(async (t) => {
          const startedAt = t.container.startedAt ?? 0;
          let record = this.#records.get(t.container.id);
          if (!record || !sameStart(record.startedAt, startedAt))
            record = {
              containerId: t.container.id,
              startedAt,
              health: "starting",
              consecutiveFailures: 0,
              lastProbeAt: undefined,
              lastOutput: undefined,
              notRun: 0,
              lastNotRun: undefined,
            };
          this.#records.set(t.container.id, record);
          if (!probeDue(record, t.spec, now)) return;
          this.#running.add(t.container.id);
          try {
            const result = await this.#check(t);
            this.#onProbe(result.outcome);
            const next = afterProbe(record, result, t.spec, this.#clock());
            this.#records.set(t.container.id, next);
            if (next.health !== record.health) this.#onChange(t.appId);
          } finally {
            this.#running.delete(t.container.id);
          }
        }),
    );
  }
}
