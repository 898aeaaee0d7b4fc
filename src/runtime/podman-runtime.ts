/**
 * The Podman runtime: `Runtime` (runtime.ts) over the libpod client and the user's systemd. New
 * containers are created by the configured backend (plain Podman through the API, or Quadlet units
 * run by the user's systemd); existing containers are stopped, started and removed by the backend
 * *observed* to own them, and every stop is verified — a stop that leaves the container running is
 * an error, never a success (the field failure this platform must not repeat).
 */

import { statfs } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import type { ProtectedDir } from "../manifest/host-paths.ts";
import { LABELS, networkName, OWNER } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { imageCompressedBytes } from "../registry/image-size.ts";
import { freeSubnet, parseCidr } from "../render/addresses.ts";
import { podmanPlan, type RenderContext, renderQuadlet } from "../render/index.ts";
import { readContainerUnit, serviceOfUnitFile } from "../render/quadlet.ts";
import { describeResource, type ResourceKind, resourceKey } from "../render/resources.ts";
import { type VolumeData, volumeDataPath } from "./data-dirs.ts";
import type { PodmanClient, PodmanInfo } from "./libpod/client.ts";
import type { ContainerInspect } from "./libpod/containers.ts";
import { isPodmanError, PodmanError } from "./libpod/errors.ts";
import { pullErrorKind } from "./libpod/images.ts";
import type { NetworkInspect } from "./libpod/networks.ts";
import type { MemoryLimits } from "./memory-limits.ts";
import { observe } from "./observe.ts";
import {
  type Backend,
  type ContainerState,
  MANAGED_FILTER,
  type ObservedContainer,
  SYSTEMD_UNIT_LABEL,
} from "./observed.ts";
import {
  type ContainerMounts,
  type ContainerRef,
  type ExecResult,
  type LegacyName,
  type LogOptions,
  type Observation,
  type OutputChunk,
  type ProbeRun,
  PullFailure,
  type PullOptions,
  type RegistryAuth,
  type Runtime,
  RuntimeError,
  type StopOutcome,
  type Watch,
  type WatchHandlers,
} from "./runtime.ts";
import type { SystemdUser, UnitState, UnitStore } from "./systemd.ts";

/** The drop-in that keeps a stopped Quadlet unit from starting at boot. */
export const STOPPED_DROP_IN = "50-archipelago-stopped.conf";

export type PodmanRuntimeOptions = {
  client: PodmanClient;
  /** How new containers are created. Existing ones are always handled by their observed backend. */
  createWith: Backend;
  systemd?: SystemdUser;
  units?: UnitStore;
  log?: (message: string) => void;
  /** Whether Podman enforces memory limits here (from `podman info`; default: it does). */
  memoryLimits?: MemoryLimits;
};

/**
 * Container events that may change what the planner sees. Health probes run `exec` every few
 * seconds: their events (and attach/checkpoint chatter) would only make the reconciler look again.
 */
const STATE_CHANGING = new Set([
  "create",
  "init",
  "start",
  "restart",
  "stop",
  "kill",
  "die",
  "died",
  "remove",
  "cleanup",
  "pause",
  "unpause",
  "oom",
  "rename",
]);

/** How long `systemctl start` of a unit may take unless the unit allows more (`TimeoutStartSec=`). */
const UNIT_START_TIMEOUT_MS = 120_000;

/**
 * What planning sees of a Quadlet container that no container stands for (its unit runs it with
 * `--rm`): a unit starting as a created container (a start joins the start under way); a unit
 * that systemd still counts as up as a container stopping, to be looked at again — its container
 * exited and `--rm` removed it before systemd saw the exit (or it started after Podman listed
 * containers), and starting it then would neither say that it exited nor with what code; any other
 * as an exited one — a unit stopping after its container exited (its `ExecStopPost=` removing it)
 * is a container that exited, as a plain one would be listed. A job's unit (`oneShot`) stays active
 * (exited) once its run ended, which is its completion; inactive and never run since it was loaded,
 * it is a created one: its exit status 0 is no completion. Only a job's: any other unit loses that
 * fact when systemd unloads or reloads it, and a stopped app's container is exited, not created.
 */
export function unitContainerState(unit: UnitState | undefined, oneShot: boolean): ContainerState {
  if (oneShot && unit?.active === "active" && unit.sub === "exited") return "exited";
  if (oneShot && unit?.active === "inactive" && !unit.ran) return "created";
  switch (unit?.active) {
    case "activating":
      return "created";
    case "active":
    case "reloading":
      return "stopping";
    case undefined:
      return "unknown";
    default:
      return "exited";
  }
}

/** The `.container` file a container's service is generated from (`web.service` → `web.container`). */
export function containerFileOf(service: string): string {
  return `${service.replace(/\.service$/, "")}.container`;
}

/**
 * Where an existing volume of an app's name keeps its data, when that is not `planned` (the app's
 * data directory its bind points at); undefined when it is there.
 */
function dataElsewhere(
  volume: { Mountpoint: string; Options?: Record<string, string> | null },
  planned: string,
): string | undefined {
  const options = volume.Options ?? {};
  const bind = (options.o ?? "").split(",").some((o) => o === "bind" || o === "rbind");
  const where = bind && options.device ? options.device : volume.Mountpoint;
  return where === planned ? undefined : where;
}

/** Where Podman keeps images and containers' files, volumes and its state. */
type StoreDirs = Pick<PodmanInfo, "graphRoot" | "volumePath" | "runRoot">;

export class PodmanRuntime implements Runtime {
  readonly #client: PodmanClient;
  readonly createWith: Backend;
  readonly memoryLimits: MemoryLimits;
  readonly #systemd: SystemdUser | undefined;
  readonly #units: UnitStore | undefined;
  readonly #log: (message: string) => void;

  constructor(options: PodmanRuntimeOptions) {
    this.#client = options.client;
    this.createWith = options.createWith;
    this.memoryLimits = options.memoryLimits ?? { enforced: true };
    this.#systemd = options.systemd;
    this.#units = options.units;
    this.#log = options.log ?? (() => {});
    if (options.createWith === "quadlet" && (!options.systemd || !options.units))
      throw new RuntimeError(
        "backend-unavailable",
        "the Quadlet backend needs the user's systemd and a unit directory",
      );
  }

  /**
   * Every container the platform manages, from one Podman list; plus, with the Quadlet backend
   * wired, the platform's Quadlet containers that are down. A unit runs its container with `--rm`,
   * so one stopped, crashed or not started yet leaves only its unit: it is observed from the unit
   * (the unit's name as its id, the state systemd gives it) so that planning sees it as it sees a
   * stopped plain container, to start again, keep stopped or remove. Converged running apps cost
   * no more than the list and a directory read.
   */
  async observe(legacy?: ReadonlyMap<string, LegacyName>): Promise<Observation> {
    const observation = await observe(this.#client, legacy);
    const down = await this.#downUnits(observation.containers);
    return down.length === 0
      ? observation
      : { ...observation, containers: [...observation.containers, ...down] };
  }

  /** Podman's events of the platform's containers that change their state, by app. */
  watch(handlers: WatchHandlers): Watch {
    return this.#client.events({
      labels: [MANAGED_FILTER],
      onEvent: (event) => {
        const appId = event.labels[LABELS.app];
        if (event.type === "container" && appId && STATE_CHANGING.has(event.action)) handlers.onChange(appId);
      },
      onStatus: (status) => handlers.onStatus?.(status),
    });
  }

  /** From an inspect: Podman lists StartedAt in whole seconds, its inspect has nanoseconds. */
  async startedAt(container: ContainerRef): Promise<number | undefined> {
    const inspect = await this.#client.containers.find(container.id).catch(() => undefined);
    const precise = inspect ? Date.parse(inspect.State.StartedAt) : Number.NaN;
    return Number.isNaN(precise) ? undefined : precise;
  }

  imagePresent(reference: string): Promise<boolean> {
    return this.#client.images.exists(reference);
  }

  async pullImage(reference: string, options: PullOptions = {}): Promise<void> {
    try {
      await this.#client.images.pull(reference, options);
    } catch (error) {
      // A Podman that is not answering is the caller's to wait out, like every Podman call.
      if (
        !isPodmanError(error) ||
        error.operation !== "image.pull" ||
        error.kind === "unavailable" ||
        error.kind === "timeout"
      )
        throw error;
      throw new PullFailure(pullErrorKind(error.message), error.message.replace(/^image\.pull: /, ""), {
        cause: error,
      });
    }
  }

  imageDownloadBytes(reference: string, auth?: RegistryAuth): Promise<number> {
    return imageCompressedBytes(reference, auth);
  }

  async imageStorageSpace(): Promise<{ path: string; freeBytes: number }> {
    const graphRoot = (await this.#storeDirs())?.graphRoot;
    if (!graphRoot) throw new Error("Podman did not say where it keeps images (podman info)");
    const fs = await statfs(graphRoot);
    return { path: graphRoot, freeBytes: Number(fs.bavail) * Number(fs.bsize) };
  }

  #storeInfo: Promise<StoreDirs | undefined> | undefined;

  /** Where Podman keeps its storage, volumes and state: asked once (a slow call), again after a failure. */
  #storeDirs(): Promise<StoreDirs | undefined> {
    this.#storeInfo ??= this.#client.info().then(
      ({ graphRoot, volumePath, runRoot }) => ({ graphRoot, volumePath, runRoot }),
      () => {
        this.#storeInfo = undefined; // asked again next time
        return undefined;
      },
    );
    return this.#storeInfo;
  }

  /** Podman's API socket, and its storage. */
  async engineDirs(): Promise<ProtectedDir[]> {
    const info = await this.#storeDirs();
    const storage = info
      ? [
          { path: info.graphRoot, what: "Podman's storage: every container's files" },
          { path: info.volumePath, what: "Podman's volumes" },
          { path: info.runRoot, what: "Podman's runtime state" },
        ]
      : [];
    return [
      { path: this.#client.socketPath, what: "Podman's API socket" },
      ...storage.filter((dir) => dir.path !== ""),
    ];
  }

  async #downUnits(present: readonly ObservedContainer[]): Promise<ObservedContainer[]> {
    const units = this.#units;
    const systemd = this.#systemd;
    if (!units || !systemd) return [];
    const names = new Set(present.map((c) => c.name));
    const found: Array<
      { file: string; service: string; modifiedAt: number } & ReturnType<typeof readContainerUnit>
    > = [];
    for (const file of await units.list()) {
      // The platform names its unit files after their containers: a running one needs no read.
      if (!file.endsWith(".container") || names.has(file.slice(0, -".container".length))) continue;
      const read = await units.read(file);
      if (!read) continue;
      const unit = readContainerUnit(file, read.content);
      if (unit.labels[LABELS.owner] !== OWNER || !unit.labels[LABELS.app] || names.has(unit.containerName))
        continue;
      found.push({ file, service: serviceOfUnitFile(file), modifiedAt: read.modifiedAt, ...unit });
    }
    if (found.length === 0) return [];
    const states = await systemd.states(found.map((f) => f.service));
    // A unit systemd said nothing of (it did not answer) is not a container in an unknown state,
    // which planning would start without knowing whether, or why, it went down: the observation failed.
    const unsaid = found.filter((f) => !states.has(f.service)).map((f) => f.service);
    if (unsaid.length > 0)
      throw new Error(`the user's systemd did not say the state of ${unsaid.join(", ")}`);
    const out: ObservedContainer[] = [];
    for (const f of found) {
      const state = states.get(f.service);
      const stopped = (await units.list(`${f.file}.d`)).includes(STOPPED_DROP_IN);
      out.push({
        id: f.service,
        name: f.containerName,
        appId: f.labels[LABELS.app],
        key: f.labels[LABELS.container],
        specHash: f.labels[LABELS.specHash],
        image: f.image ?? "",
        state: unitContainerState(state, f.oneShot),
        exitCode: state?.exitStatus ?? 0,
        // The unit was written when its container was (re)created: a reinstall asked after it is done.
        createdAt: f.modifiedAt,
        startedAt: undefined,
        finishedAt: undefined,
        backend: "quadlet",
        unit: f.service,
        labels: { ...f.labels, [SYSTEMD_UNIT_LABEL]: f.service },
        startsAtBoot: !stopped,
      });
    }
    return out;
  }

  /** Creates the app network unless it exists (plain backend; Quadlet creates it from its unit). */
  async ensureNetwork(manifest: Manifest, ctx: RenderContext): Promise<string | undefined> {
    const name = networkName(manifest.id);
    const existing = await this.#client.networks.find(name);
    if (existing) return ipv4Subnet(existing);
    // A subnet of the platform's choosing, so that fixed addresses have room Podman never leases
    // (render/addresses.ts). Another network may take the chosen one first: choose again.
    const used = [...hostSubnets()];
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const network of await this.#client.networks.list([]))
        for (const { subnet } of network.subnets ?? []) used.push(subnet);
      const subnet = freeSubnet(used);
      const subnets = subnet ? { ...ctx.subnets, [manifest.id]: subnet } : ctx.subnets;
      const { network } = podmanPlan(manifest, { ...ctx, subnets });
      try {
        return ipv4Subnet(await this.#client.networks.create(network));
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
    const network = await this.#client.networks.find(networkName(appId));
    return network ? ipv4Subnet(network) : undefined;
  }

  /** Creates the app's Podman volumes (bound to directories under the data root) unless they exist. */
  async ensureVolumes(manifest: Manifest, ctx: RenderContext): Promise<void> {
    for (const volume of podmanPlan(manifest, ctx).volumes) {
      let existing = await this.#client.volumes.find(volume.Name);
      if (!existing)
        try {
          await this.#client.volumes.create(volume);
          continue;
        } catch (error) {
          if (!isPodmanError(error, "conflict")) throw error;
          existing = await this.#client.volumes.find(volume.Name);
        }
      // A volume of that name that is not this app's holds someone else's data: never mounted.
      const labels = existing?.Labels ?? {};
      if (existing && (labels[LABELS.owner] !== OWNER || labels[LABELS.app] !== manifest.id))
        throw new RuntimeError(
          "name-conflict",
          `the Podman volume ${volume.Name} exists and is not ${manifest.id}'s (${
            labels[LABELS.owner] === OWNER
              ? `it is app ${labels[LABELS.app] ?? "unknown"}'s`
              : "the platform did not make it"
          }): its data is never given to another app; remove or rename it if it is not needed`,
        );
      // Ours by its labels, yet its data elsewhere (a volume `podman kube play` of the render made,
      // labelled as the app's): mounting it would split the app's data between two places.
      const elsewhere = existing ? dataElsewhere(existing, volume.Options.device) : undefined;
      if (elsewhere !== undefined)
        throw new RuntimeError(
          "name-conflict",
          `the Podman volume ${volume.Name} is labelled as ${manifest.id}'s but keeps its data in ${elsewhere}, not in the app's data directory ${volume.Options.device}: it is not used. ` +
            `If its data is needed, copy it into ${volume.Options.device}; then remove the volume (podman volume rm ${volume.Name}) and retry`,
        );
    }
  }

  /**
   * Where a legacy Podman volume (one an earlier installation made) keeps its data, for an app
   * that takes it over; undefined when no volume has that name. Only inspects it.
   */
  async legacyVolumeData(name: string): Promise<VolumeData | undefined> {
    const volume = await this.#client.volumes.find(name);
    return volume ? volumeDataPath(volume) : undefined;
  }

  /** The containers among `names` that run (or are paused), with the volumes and host paths they mount. */
  async runningMounts(names: readonly string[]): Promise<ContainerMounts[]> {
    const out: ContainerMounts[] = [];
    for (const name of names) {
      const c = await this.#client.containers.find(name);
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
    if (await this.#client.secrets.find(name)) return false;
    await ignoreConflict(this.#client.secrets.create(name, value));
    return true;
  }

  async replaceSecret(name: string, value: Uint8Array): Promise<void> {
    await this.#client.secrets.create(name, value, { replace: true });
  }

  removeSecret(name: string): Promise<void> {
    return this.#client.secrets.remove(name);
  }

  async secretNames(prefix: string): Promise<string[]> {
    return (await this.#client.secrets.list())
      .map((s) => s.Spec.Name)
      .filter((name) => name.startsWith(prefix))
      .sort();
  }

  /**
   * Creates one container of an app, with the configured backend unless the planner chose one (an
   * app keeps the backend its containers have). Plain Podman: the container is created, not
   * started. Quadlet: its units are installed (the user's systemd reloaded when they changed) and
   * its service started, which creates and starts the container. A name held by a container the
   * platform does not manage is a `name-conflict`, never overwritten.
   */
  async create(
    manifest: Manifest,
    key: string,
    ctx: RenderContext,
    backend: Backend = this.createWith,
  ): Promise<void> {
    const plan = podmanPlan(manifest, ctx);
    const container = plan.containers.find((c) => c.key === key);
    if (!container) throw new Error(`app ${manifest.id} has no container ${key}`);
    if (!(await this.#client.images.exists(container.body.image)))
      throw new RuntimeError(
        "image-missing",
        `image ${container.body.image} of ${manifest.id}/${key} is not on this node`,
      );
    if (backend === "podman") {
      try {
        await this.#client.containers.create(container.body as unknown as Record<string, unknown>);
      } catch (error) {
        if (isPodmanError(error, "conflict")) throw await this.#conflict(container.name, manifest.id, error);
        throw error;
      }
      return;
    }
    const systemd = this.#systemd;
    const units = this.#units;
    if (!systemd || !units)
      throw new RuntimeError(
        "backend-unavailable",
        `${manifest.id}/${key} runs under Quadlet (its other containers do), but this daemon has no user systemd to run units: start the daemon where the user's systemd answers`,
      );
    // The unit replaces a container of its name: only ever one of this very app.
    const existing = await this.#client.containers.find(container.name);
    if (existing && appOf(existing) !== manifest.id) throw await this.#conflict(container.name, manifest.id);
    const file = `${container.name}.container`;
    const wanted = renderQuadlet(manifest, ctx).filter(
      (f) => !f.path.endsWith(".container") || f.path === file,
    );
    let changed = false;
    for (const unitFile of wanted) {
      if ((await units.read(unitFile.path))?.content === unitFile.content) continue;
      await units.write(unitFile.path, unitFile.content);
      changed = true;
    }
    if ((await units.list(`${file}.d`)).includes(STOPPED_DROP_IN)) {
      await units.remove(`${file}.d/${STOPPED_DROP_IN}`);
      changed = true;
    }
    const service = serviceOfUnitFile(file);
    if (changed || (await systemd.state(service)).load !== "loaded") await systemd.daemonReload();
    const content = wanted.find((f) => f.path === file)?.content ?? "";
    await systemd.start(service, startTimeoutMs(content));
  }

  async #conflict(name: string, appId: string, cause?: unknown): Promise<RuntimeError> {
    const holder = await this.#client.containers.find(name).catch(() => undefined);
    const owner = holder
      ? isOurs(holder)
        ? appOf(holder) === appId
          ? `an earlier container of ${appId}`
          : `app ${appOf(holder) ?? "unknown"}`
        : "a container the platform does not manage"
      : "another container";
    return new RuntimeError(
      "name-conflict",
      `the container name ${name} is already used by ${owner}; ${
        holder && isOurs(holder) && appOf(holder) !== appId
          ? "it is never taken from another app: give this app's container another container_name"
          : "rename or remove it, or declare it under adoption"
      }`,
      { cause },
    );
  }

  /**
   * Starts a container through the backend that owns it. A Quadlet container is started by its
   * unit (which runs a new container under the same name, and is put back into the boot); the API
   * is used only when the unit is gone, or left an existing container stopped.
   */
  async start(container: ContainerRef): Promise<void> {
    if (
      container.backend === "quadlet" &&
      container.unit &&
      this.#systemd &&
      (await this.#unitReady(container.unit))
    ) {
      const unit = container.unit;
      await this.#bootWith(unit, true);
      // A unit that failed (its container exited on its own) may also have hit its start limit.
      if ((await this.#systemd.state(unit)).active === "failed") await this.#systemd.resetFailed(unit);
      await this.#systemd.start(unit, await this.#unitStartTimeout(unit));
      // The unit may have replaced the container (same name, new id): check by name. A container
      // that exits right after its start is the next observation's to see (a crash, told with its output).
      if (await this.#settledRunning(container.name)) return;
      const left = await this.#client.containers.find(container.id);
      if (!left || left.State.Running) return;
      this.#log(`systemctl --user start ${unit} left ${container.name} stopped; starting it through the API`);
    }
    await this.#client.containers.start(container.id);
  }

  /**
   * Stops a container through the backend that owns it, then checks that it really stopped. A
   * Quadlet-labelled container whose unit no longer exists (the seed's field failure) is stopped
   * through the API; a stop that leaves it running throws `stop-ineffective`.
   */
  async stop(container: ContainerRef, timeoutSeconds: number): Promise<StopOutcome> {
    const before = await this.#client.containers.find(container.id);
    const wasRunning = before?.State.Running === true;
    if (container.backend === "quadlet" && container.unit && this.#systemd) {
      // A stop by the operator must survive a reboot: take the unit out of default.target first,
      // whether or not a container runs from it now.
      await this.#bootWith(container.unit, false);
      if (await this.#unitLoaded(container.unit)) {
        const result = await this.#systemd.stop(container.unit, (timeoutSeconds + 60) * 1000);
        if (result.code === 0 && !(await this.#running(container.id))) return { via: "systemd", wasRunning };
        this.#log(
          `systemctl --user stop ${container.unit} left ${container.name} running (${result.stderr.trim() || `exit ${result.code}`}); stopping it through the API`,
        );
      }
    }
    if (!before) return { via: "api", wasRunning: false };
    if (wasRunning || before.State.Status !== "exited")
      await this.#client.containers.stop(container.id, timeoutSeconds);
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
    if (viaUnit || (await this.#client.containers.find(container.id))) await this.start(container);
    else
      throw new PodmanError(
        "not-found",
        "container.restart",
        `${container.name} disappeared while restarting`,
      );
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
        const file = containerFileOf(container.unit);
        const present = await this.#units.list();
        const ours = [file, `${file}.d`].filter((name) => present.includes(name));
        for (const name of ours) await this.#units.remove(name);
        if (ours.length > 0) await this.#systemd.daemonReload();
      }
    }
    try {
      await this.#client.containers.remove(container.id, { force: true, timeoutSeconds });
    } catch (error) {
      if (!isPodmanError(error, "not-found")) throw error;
    }
  }

  /**
   * Removes the units and Podman objects an app's network and volumes were created from (never the
   * data), except those named in `keep` (`resourceKey`s: names another installed app has too).
   * Returns what it kept, in words.
   */
  async removeAppResources(
    manifest: Manifest,
    ctx: RenderContext,
    keep: ReadonlySet<string> = new Set(),
  ): Promise<string[]> {
    const plan = podmanPlan(manifest, ctx);
    const kept: string[] = [];
    const keeps = (kind: ResourceKind, name: string) => {
      if (!keep.has(resourceKey(kind, name))) return false;
      kept.push(`${describeResource({ kind, name })}: another app has that name`);
      return true;
    };
    if (this.#units && this.#systemd) {
      const present = await this.#units.list();
      const rendered = renderQuadlet(manifest, ctx).map((f) => f.path);
      const ours = rendered.filter((p) => present.includes(p) && !keeps("unit", serviceOfUnitFile(p)));
      // The .network and .volume services are oneshots that remain active after they ran. Left
      // active, they would outlive their unit files (as "not-found active") and, at the next
      // install, satisfy the new container unit's Requires= without running again: the network
      // removed below would never be recreated ("network not found"). Stop them first.
      for (const file of ours) await this.#systemd.stop(serviceOfUnitFile(file));
      // With the stop drop-ins of its units (those already removed too): a later install under
      // the same names starts at boot again.
      // (A unit another app shares keeps its drop-ins too.)
      const dropIns = rendered
        .filter((file) => ours.includes(file) || !present.includes(file))
        .map((file) => `${file}.d`)
        .filter((dir) => present.includes(dir));
      for (const file of [...ours, ...dropIns]) await this.#units.remove(file);
      if (ours.length > 0 || dropIns.length > 0) await this.#systemd.daemonReload();
    }
    if (!keeps("network", plan.network.name)) await this.#client.networks.remove(plan.network.name);
    for (const volume of plan.volumes) {
      if (keeps("volume", volume.Name)) continue;
      // Only the app's own: a volume of its name that someone else made is left as it is.
      const existing = await this.#client.volumes.find(volume.Name);
      if (!existing) continue;
      const elsewhere = dataElsewhere(existing, volume.Options.device);
      if (elsewhere !== undefined)
        kept.push(
          `${describeResource({ kind: "volume", name: volume.Name })}, whose data is in ${elsewhere}, not in the app's data directory: that data was not deleted`,
        );
      else if (existing.Labels?.[LABELS.owner] === OWNER && existing.Labels?.[LABELS.app] === manifest.id)
        await this.#client.volumes.remove(volume.Name);
      else
        kept.push(
          `${describeResource({ kind: "volume", name: volume.Name })}, which is not ${manifest.id}'s: another app has that name`,
        );
    }
    return kept;
  }

  /** Podman's init (see `Containers.init`): a copy into a stopped container lands in its volumes only then. */
  init(container: ContainerRef): Promise<void> {
    return this.#client.containers.init(container.id);
  }

  copyInto(container: ContainerRef, directory: string, archive: Uint8Array): Promise<void> {
    return this.#client.containers.putArchive(container.id, directory, archive);
  }

  exec(
    container: ContainerRef,
    command: string[],
    timeoutMs: number,
    env?: Readonly<Record<string, string>>,
  ): Promise<ExecResult> {
    return this.#client.containers.exec(container.id, command, { timeoutMs, env });
  }

  /** A health probe: exited, timed out, or not run by Podman (see `Containers.probe`). */
  probe(container: ContainerRef, command: string[], timeoutMs: number): Promise<ProbeRun> {
    return this.#client.containers.probe(container.id, command, timeoutMs);
  }

  /**
   * A container's output. A Quadlet container that is down (its unit removed it) keeps its output
   * in the user's journal (Podman's journald log driver): its last lines come from there.
   */
  async logs(container: ContainerRef, options: LogOptions): Promise<AsyncIterable<OutputChunk>> {
    const systemd = this.#systemd;
    if (container.backend === "quadlet" && systemd && !(await this.#client.containers.find(container.id))) {
      const text = await systemd.containerJournal(container.name, options.tail ?? 100);
      return (async function* () {
        if (text !== "") yield { stream: "stdout" as const, data: Buffer.from(text) };
      })();
    }
    return this.#client.containers.logs(container.id, options);
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
    const file = containerFileOf(unit);
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

  /**
   * Whether a unit can be started by systemd: loaded, or one of the platform's unit files that
   * systemd has not read yet (written just before a crash of the daemon): then it is read now.
   */
  async #unitReady(unit: string): Promise<boolean> {
    if (await this.#unitLoaded(unit)) return true;
    const file = containerFileOf(unit);
    if (!this.#units || !(await this.#units.list()).includes(file)) return false;
    await this.#systemd?.daemonReload();
    return this.#unitLoaded(unit);
  }

  /** How long a start of the unit may take, from its unit file (a unit waiting for health allows more). */
  async #unitStartTimeout(unit: string): Promise<number> {
    const file = containerFileOf(unit);
    return startTimeoutMs((await this.#units?.read(file))?.content ?? "");
  }

  /**
   * Whether the container runs, once Podman is done starting it: a unit's start returns when
   * conmon reports the container started, a moment before Podman lists it running (still
   * "created"). That state alone is waited out, for at most 10 s.
   */
  async #settledRunning(name: string): Promise<boolean> {
    for (let attempt = 0; attempt < 40; attempt++) {
      const found = await this.#client.containers.find(name);
      if (!found) return false;
      if (found.State.Running) return true;
      if (!["created", "configured", "initialized"].includes(found.State.Status)) return false;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return false;
  }

  async #unitLoaded(unit: string): Promise<boolean> {
    const state = await this.#systemd?.state(unit);
    return state?.load === "loaded";
  }

  async #running(id: string): Promise<boolean> {
    const after: ContainerInspect | undefined = await this.#client.containers.find(id);
    return after?.State.Running === true;
  }
}

/** The time a unit's start may take: its `TimeoutStartSec=` and a margin, or the default. */
function startTimeoutMs(content: string): number {
  const seconds = Number(/^TimeoutStartSec=(\d+)$/m.exec(content)?.[1]);
  return Number.isFinite(seconds)
    ? Math.max(UNIT_START_TIMEOUT_MS, (seconds + 30) * 1000)
    : UNIT_START_TIMEOUT_MS;
}

function isOurs(container: ContainerInspect): boolean {
  return container.Config.Labels?.[LABELS.owner] === OWNER;
}

/** The app a container of the platform belongs to, from its labels. */
function appOf(container: ContainerInspect): string | undefined {
  return isOurs(container) ? container.Config.Labels?.[LABELS.app] : undefined;
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
