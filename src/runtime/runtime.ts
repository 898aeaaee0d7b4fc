/**
 * The runtime: the small interface through which the orchestrator acts on Podman. New containers
 * are created by the configured backend (plain Podman through the API, or Quadlet units run by the
 * user's systemd); existing containers are stopped, started and removed by the backend *observed*
 * to own them, and every stop is verified — a stop that leaves the container running is an error,
 * never a success (the field failure this platform must not repeat).
 */
import { networkInterfaces } from "node:os";
import { LABELS, networkName, OWNER } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { freeSubnet, parseCidr } from "../render/addresses.ts";
import { podmanPlan, type RenderContext, renderQuadlet } from "../render/index.ts";
import { type VolumeData, volumeDataPath } from "./data-dirs.ts";
import type { PodmanClient } from "./libpod/client.ts";
import type { ContainerInspect, ExecResult, ProbeRun } from "./libpod/containers.ts";
import { isPodmanError, PodmanError } from "./libpod/errors.ts";
import type { OutputChunk } from "./libpod/multiplex.ts";
import type { NetworkInspect } from "./libpod/networks.ts";
import { type LegacyName, type Observation, observe } from "./observe.ts";
import type { Backend, ObservedContainer } from "./observed.ts";
import type { SystemdUser, UnitStore } from "./systemd.ts";

export type RuntimeErrorKind = "stop-ineffective" | "name-conflict" | "image-missing" | "backend-unavailable";

/** The drop-in that keeps a stopped Quadlet unit from starting at boot. */
export const STOPPED_DROP_IN = "50-archipelago-stopped.conf";

export class RuntimeError extends Error {
  readonly kind: RuntimeErrorKind;
  constructor(kind: RuntimeErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "RuntimeError";
    this.kind = kind;
  }
}

export type RuntimeOptions = {
  client: PodmanClient;
  /** How new containers are created. Existing ones are always handled by their observed backend. */
  createWith: Backend;
  systemd?: SystemdUser;
  units?: UnitStore;
  log?: (message: string) => void;
};

/** A container to act on: what an observation reported (id, name, backend, unit). */
export type ContainerRef = Pick<ObservedContainer, "id" | "name" | "backend" | "unit">;

export type StopOutcome = { via: "systemd" | "api"; wasRunning: boolean };

/** A running container and what it mounts: Podman volumes by name, and host paths (volume mount points too). */
export type ContainerMounts = { name: string; volumes: string[]; paths: string[] };

/** The unit Quadlet generates for a `.container`, `.network` or `.volume` file. */
export function serviceOfUnitFile(file: string): string {
  if (file.endsWith(".container")) return `${file.slice(0, -".container".length)}.service`;
  if (file.endsWith(".network")) return `${file.slice(0, -".network".length)}-network.service`;
  if (file.endsWith(".volume")) return `${file.slice(0, -".volume".length)}-volume.service`;
  throw new Error(`not a Quadlet unit file: ${file}`);
}

export class Runtime {
  readonly client: PodmanClient;
  readonly createWith: Backend;
  readonly #systemd: SystemdUser | undefined;
  readonly #units: UnitStore | undefined;
  readonly #log: (message: string) => void;

  constructor(options: RuntimeOptions) {
    this.client = options.client;
    this.createWith = options.createWith;
    this.#systemd = options.systemd;
    this.#units = options.units;
    this.#log = options.log ?? (() => {});
    if (options.createWith === "quadlet" && (!options.systemd || !options.units))
      throw new RuntimeError(
        "backend-unavailable",
        "the Quadlet backend needs the user's systemd and a unit directory",
      );
  }

  observe(legacy?: ReadonlyMap<string, LegacyName>): Promise<Observation> {
    return observe(this.client, legacy);
  }

  /** Creates the app network unless it exists (plain backend; Quadlet creates it from its unit). */
  async ensureNetwork(manifest: Manifest, ctx: RenderContext): Promise<string | undefined> {
    const name = networkName(manifest.id);
    const existing = await this.client.networks.find(name);
    if (existing) return ipv4Subnet(existing);
    // A subnet of the platform's choosing, so that fixed addresses have room Podman never leases
    // (render/addresses.ts). Another network may take the chosen one first: choose again.
    const used = [...hostSubnets()];
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const network of await this.client.networks.list([]))
        for (const { subnet } of network.subnets ?? []) used.push(subnet);
      const subnet = freeSubnet(used);
      const subnets = subnet ? { ...ctx.subnets, [manifest.id]: subnet } : ctx.subnets;
      const { network } = podmanPlan(manifest, { ...ctx, subnets });
      try {
        return ipv4Subnet(await this.client.networks.create(network));
      } catch (error) {
        if (isPodmanError(error, "conflict")) return this.networkSubnet(manifest.id);
        if (!subnet || !/already used|overlap/i.test((error as Error).message) || attempt === 4) throw error;
        used.push(subnet);
      }
    }
    return undefined;
  }

  /** The IPv4 subnet of an app's network; undefined while it does not exist. */
  async networkSubnet(appId: string): Promise<string | undefined> {
    const network = await this.client.networks.find(networkName(appId));
    return network ? ipv4Subnet(network) : undefined;
  }

  /** Creates the app's Podman volumes (bound to directories under the data root) unless they exist. */
  async ensureVolumes(manifest: Manifest, ctx: RenderContext): Promise<void> {
    for (const volume of podmanPlan(manifest, ctx).volumes) {
      if (await this.client.volumes.find(volume.Name)) continue;
      await ignoreConflict(this.client.volumes.create(volume));
    }
  }

  /**
   * Where a legacy Podman volume (one an earlier installation made) keeps its data, for an app
   * that takes it over; undefined when no volume has that name. Only inspects it.
   */
  async legacyVolumeData(name: string): Promise<VolumeData | undefined> {
    const volume = await this.client.volumes.find(name);
    return volume ? volumeDataPath(volume) : undefined;
  }

  /** The containers among `names` that run (or are paused), with the volumes and host paths they mount. */
  async runningMounts(names: readonly string[]): Promise<ContainerMounts[]> {
    const out: ContainerMounts[] = [];
    for (const name of names) {
      const c = await this.client.containers.find(name);
      if (!c || !(c.State.Running || c.State.Status === "paused")) continue;
      const mounts = c.Mounts ?? [];
      out.push({
        name,
        volumes: mounts.flatMap((m) => (m.Type === "volume" && m.Name ? [m.Name] : [])),
        paths: mounts.map((m) => m.Source).filter((s) => s !== ""),
      });
    }
    return out;
  }

  /** Stores a Podman secret unless one of that name exists; returns whether it was created. */
  async ensureSecret(name: string, value: Uint8Array): Promise<boolean> {
    if (await this.client.secrets.find(name)) return false;
    await ignoreConflict(this.client.secrets.create(name, value));
    return true;
  }

  /**
   * Creates one container of an app with the configured backend. Plain Podman: the container is
   * created, not started. Quadlet: its units are installed and its service started, which creates
   * and starts the container. A name held by a container the platform does not manage is a
   * `name-conflict`, never overwritten.
   */
  async create(manifest: Manifest, key: string, ctx: RenderContext): Promise<void> {
    const plan = podmanPlan(manifest, ctx);
    const container = plan.containers.find((c) => c.key === key);
    if (!container) throw new Error(`app ${manifest.id} has no container ${key}`);
    if (!(await this.client.images.exists(container.body.image)))
      throw new RuntimeError(
        "image-missing",
        `image ${container.body.image} of ${manifest.id}/${key} is not on this node`,
      );
    if (this.createWith === "podman") {
      try {
        await this.client.containers.create(container.body as unknown as Record<string, unknown>);
      } catch (error) {
        if (isPodmanError(error, "conflict")) throw await this.#conflict(container.name, error);
        throw error;
      }
      return;
    }
    const systemd = this.#systemd as SystemdUser;
    const units = this.#units as UnitStore;
    const existing = await this.client.containers.find(container.name);
    if (existing && !isOurs(existing)) throw await this.#conflict(container.name);
    const files = renderQuadlet(manifest, ctx);
    const wanted = files.filter(
      (f) => !f.path.endsWith(".container") || f.path === `${container.name}.container`,
    );
    for (const file of wanted) await units.write(file.path, file.content);
    await units.remove(`${container.name}.container.d/${STOPPED_DROP_IN}`);
    await systemd.daemonReload();
    await systemd.start(serviceOfUnitFile(`${container.name}.container`));
  }

  async #conflict(name: string, cause?: unknown): Promise<RuntimeError> {
    const holder = await this.client.containers.find(name).catch(() => undefined);
    const owner = holder
      ? isOurs(holder)
        ? "another app of this platform"
        : "a container the platform does not manage"
      : "another container";
    return new RuntimeError(
      "name-conflict",
      `the container name ${name} is already used by ${owner}; rename or remove it, or declare it under adoption`,
      { cause },
    );
  }

  async start(container: ContainerRef): Promise<void> {
    if (
      container.backend === "quadlet" &&
      container.unit &&
      this.#systemd &&
      (await this.#unitLoaded(container.unit))
    ) {
      await this.#bootWith(container.unit, true);
      await this.#systemd.start(container.unit);
      // The unit may have replaced the container (same name, new id): check by name. A unit that
      // "started" without a container running under that name did not reach it: use the API.
      if (await this.#running(container.name)) return;
      this.#log(
        `systemctl --user start ${container.unit} left ${container.name} stopped; starting it through the API`,
      );
    }
    await this.client.containers.start(container.id);
  }

  /**
   * Stops a container through the backend that owns it, then checks that it really stopped. A
   * Quadlet-labelled container whose unit no longer exists (the seed's field failure) is stopped
   * through the API; a stop that leaves it running throws `stop-ineffective`.
   */
  async stop(container: ContainerRef, timeoutSeconds: number): Promise<StopOutcome> {
    const before = await this.client.containers.find(container.id);
    if (!before) return { via: "api", wasRunning: false };
    const wasRunning = before.State.Running;
    if (
      container.backend === "quadlet" &&
      container.unit &&
      this.#systemd &&
      (await this.#unitLoaded(container.unit))
    ) {
      // A stop by the operator must survive a reboot: take the unit out of default.target first.
      await this.#bootWith(container.unit, false);
      const result = await this.#systemd.stop(container.unit, (timeoutSeconds + 60) * 1000);
      if (result.code === 0 && !(await this.#running(container.id))) return { via: "systemd", wasRunning };
      this.#log(
        `systemctl --user stop ${container.unit} left ${container.name} running (${result.stderr.trim() || `exit ${result.code}`}); stopping it through the API`,
      );
    }
    if (wasRunning || before.State.Status !== "exited")
      await this.client.containers.stop(container.id, timeoutSeconds);
    if (await this.#running(container.id))
      throw new RuntimeError(
        "stop-ineffective",
        `${container.name} is still running after a stop with a ${timeoutSeconds} s timeout`,
      );
    return { via: "api", wasRunning };
  }

  async restart(container: ContainerRef, timeoutSeconds: number): Promise<void> {
    await this.stop(container, timeoutSeconds);
    // A Quadlet unit runs its container with --rm: it is gone after the stop, and its unit starts anew.
    const viaUnit =
      container.backend === "quadlet" &&
      container.unit !== undefined &&
      (await this.#unitLoaded(container.unit));
    if (viaUnit || (await this.client.containers.find(container.id))) await this.start(container);
    else
      throw new PodmanError(
        "not-found",
        "container.restart",
        `${container.name} disappeared while restarting`,
      );
  }

  async kill(container: ContainerRef): Promise<void> {
    await this.client.containers.kill(container.id);
  }

  /**
   * Removes a container whichever backend made it; for Quadlet, its unit file too, so that systemd
   * does not bring it back at the next boot. Volumes and data are never removed here.
   */
  async remove(container: ContainerRef, timeoutSeconds: number): Promise<void> {
    if (container.backend === "quadlet" && container.unit && this.#systemd) {
      if (await this.#unitLoaded(container.unit))
        await this.#systemd.stop(container.unit, (timeoutSeconds + 60) * 1000);
      if (this.#units) {
        const file = `${container.unit.replace(/\.service$/, "")}.container`;
        if ((await this.#units.list()).includes(file)) {
          await this.#units.remove(file);
          await this.#systemd.daemonReload();
        }
      }
    }
    try {
      await this.client.containers.remove(container.id, { force: true, timeoutSeconds });
    } catch (error) {
      if (!isPodmanError(error, "not-found")) throw error;
    }
  }

  /** Removes the units and Podman objects an app's network and volumes were created from (never the data). */
  async removeAppResources(manifest: Manifest, ctx: RenderContext): Promise<void> {
    const plan = podmanPlan(manifest, ctx);
    if (this.#units && this.#systemd) {
      const present = await this.#units.list();
      const ours = renderQuadlet(manifest, ctx)
        .map((f) => f.path)
        .filter((p) => present.includes(p));
      // The .network and .volume services are oneshots that remain active after they ran. Left
      // active, they would outlive their unit files (as "not-found active") and, at the next
      // install, satisfy the new container unit's Requires= without running again: the network
      // removed below would never be recreated ("network not found"). Stop them first.
      for (const file of ours) await this.#systemd.stop(serviceOfUnitFile(file));
      for (const file of ours) await this.#units.remove(file);
      if (ours.length > 0) await this.#systemd.daemonReload();
    }
    await this.client.networks.remove(networkName(manifest.id));
    for (const volume of plan.volumes) await this.client.volumes.remove(volume.Name);
  }

  exec(container: ContainerRef, command: string[], timeoutMs: number): Promise<ExecResult> {
    return this.client.containers.exec(container.id, command, { timeoutMs });
  }

  /** A health probe: exited, timed out, or not run by Podman (see `Containers.probe`). */
  probe(container: ContainerRef, command: string[], timeoutMs: number): Promise<ProbeRun> {
    return this.client.containers.probe(container.id, command, timeoutMs);
  }

  logs(
    container: ContainerRef,
    options: { follow?: boolean; tail?: number; signal?: AbortSignal },
  ): Promise<AsyncIterable<OutputChunk>> {
    return this.client.containers.logs(container.id, options);
  }

  /**
   * Whether a Quadlet unit of the user's unit directory starts at boot. Generated units cannot be
   * disabled, so a unit the operator stopped gets a drop-in that empties its `WantedBy=`, and a
   * start removes it: a stop is never undone by a reboot, whoever wrote the unit. Units elsewhere
   * (system-wide, generated by `podman generate systemd`) are not touched.
   */
  async #bootWith(unit: string, enabled: boolean): Promise<void> {
    const units = this.#units;
    if (!units || !this.#systemd) return;
    const file = `${unit.replace(/\.service$/, "")}.container`;
    const dropIn = `${file}.d/${STOPPED_DROP_IN}`;
    const present = await units.list();
    if (!present.includes(file)) return;
    const stopped = (await units.list(`${file}.d`)).includes(STOPPED_DROP_IN);
    if (enabled === !stopped) return;
    if (enabled) await units.remove(dropIn);
    else
      await units.write(
        dropIn,
        "# Written by Archipelago: the operator stopped this app; it must not start at boot.\n[Install]\nWantedBy=\n",
      );
    await this.#systemd.daemonReload();
  }

  async #unitLoaded(unit: string): Promise<boolean> {
    const state = await this.#systemd?.state(unit);
    return state?.load === "loaded";
  }

  async #running(id: string): Promise<boolean> {
    const after: ContainerInspect | undefined = await this.client.containers.find(id);
    return after?.State.Running === true;
  }
}

function isOurs(container: ContainerInspect): boolean {
  return container.Config.Labels?.[LABELS.owner] === OWNER;
}

function ipv4Subnet(network: NetworkInspect): string | undefined {
  return network.subnets?.map((s) => s.subnet).find((subnet) => parseCidr(subnet) !== undefined);
}

/** The subnets of the host's own interfaces: a network there would shadow them. */
function hostSubnets(): string[] {
  return Object.values(networkInterfaces()).flatMap((addresses) =>
    (addresses ?? []).filter((a) => a.family === "IPv4" && a.cidr).map((a) => a.cidr as string),
  );
}

async function ignoreConflict<T>(call: Promise<T>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!isPodmanError(error, "conflict")) throw error;
  }
}
