/**
 * `archy gate`, assembled: prepares the daemon under the gate (its own sandboxed `archy daemon` by
 * default, or an existing one), plans the matrix and the faults, runs them, builds the report and
 * cleans up after itself. Everything the gate creates carries the run's prefix (sandbox mode) and
 * is removed at the end unless `--keep`; nothing else on the node is touched.
 */
import { createSocket } from "node:dgram";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { DaemonClient } from "../cli/client.ts";
import { SERVICE_USER } from "../host/layout.ts";
import { hostPathProblem } from "../manifest/host-paths.ts";
import { loadManifest } from "../manifest/load.ts";
import { CURRENT_NAMING, LABELS, networkName, secretName, volumeName } from "../manifest/naming.ts";
import type { Manifest } from "../manifest/schema.ts";
import { observe } from "../runtime/observe.ts";
import { MANAGED_FILTER } from "../runtime/observed.ts";
import { loadAppsDir, type SourcedApp } from "../sources/local.ts";
import { CODE_ROOT } from "../system/code-root.ts";
import { exec, type RunAs } from "../system/exec.ts";
import { AppData } from "./app-data.ts";
import { type DaemonControl, existingDaemon, startManagedDaemon } from "./daemon-process.ts";
import { FAULT_KINDS, type FaultKind, planFaults } from "./faults.ts";
import type { GateApp } from "./gate-app.ts";
import { hostPathsOf, isolateManifest, publishedPorts } from "./isolate.ts";
import { type Availability, type PlanApp, planGate, STEPS, type StepId } from "./matrix.ts";
import { connectPodmanSocket, type GatePodman, startPodmanService } from "./podman-service.ts";
import { imageUses, missingImages, missingImagesMessage } from "./preflight.ts";
import { reachTargets } from "./reachability.ts";
import {
  buildReport,
  type ContainerStart,
  type Environment,
  type GatedApp,
  type GateReport,
} from "./report.ts";
import { unexpectedStarts } from "./restarts.ts";
import { giveTo, isRoot, readableBy, resolveUser, stageCode } from "./run-as.ts";
import { Runner } from "./runner.ts";
import { stepTimeouts } from "./timeouts.ts";

export const REPO_ROOT = CODE_ROOT;
export const SAMPLE_APPS_DIR = join(REPO_ROOT, "apps");
/** What stands in for every device an app asks for, in the sandbox. */
export const STAND_IN_DEVICE = "/dev/zero";

export type ManagedMode = {
  kind: "managed";
  /** The user whose rootless Podman runs the apps (root only; default: the service user). */
  user?: string;
  /** Where the sandbox lives (default: a new directory under /tmp). */
  workDir?: string;
  /** Leave the sandbox as the last step left it (work directory, apps and their data). */
  keep: boolean;
  /** Sandbox copies of the apps (prefixed ids, free ports, stand-ins); off: the apps as written. */
  isolate: boolean;
};

export type ExistingMode = {
  kind: "existing";
  url: string;
  tokenFile?: string;
  restartCommand?: string;
  /** How to reboot the daemon's node for the reboot step (scripts/gate-node gives one). */
  rebootCommand?: string;
  /** The daemon user's Podman API socket, for the checks. */
  podmanSocket: string;
  /** The daemon's data directory, for the data checks. */
  dataDir: string;
};

export type GateOptions = {
  iterations: number;
  /** Apps to gate, by id (default: all in the apps directory); their dependencies are added. */
  apps?: string[];
  steps?: StepId[];
  destructive: boolean;
  chaos: boolean;
  seed?: number;
  timeoutScale: number;
  /** How long a stop or a survived restart must hold (default 2 s). */
  settleMs?: number;
  appsDir: string;
  mode: ManagedMode | ExistingMode;
  progress: (line: string) => void;
  interrupted?: () => boolean;
  /** Skip an app's later cells after its first failure (`archy app test`, see RunnerContext). */
  stopAtFailure?: boolean;
  /** Set by runGate: where incidents (a daemon that exited on its own) are collected. */
  onIncident?: (message: string) => void;
};

/** A problem that stops the gate before it judged anything (exit code 2 when it is the caller's). */
export class GateSetupError extends Error {
  readonly usage: boolean;
  constructor(message: string, usage = false) {
    super(message);
    this.usage = usage;
  }
}

const REBOOT_UNAVAILABLE =
  "no node to reboot: this gate runs the daemon on this host (rebooting it would end the gate); scripts/gate-node runs the gate against the systemd test node, which it reboots";
const REBOOT_NO_COMMAND =
  "the gate has no --reboot-command to reboot this daemon's node with (scripts/gate-node runs the gate against the systemd test node with one)";

/**
 * The Podman networks, volumes and secrets the daemon makes for the gated apps (their containers
 * carry the app label): the gate's own daemon installs them afresh, under the current naming.
 */
export function podmanObjects(
  ids: Record<string, string>,
  manifests: ReadonlyMap<string, Manifest>,
): { networks: string[]; volumes: string[]; secrets: string[] } {
  const networks: string[] = [];
  const volumes: string[] = [];
  const secrets: string[] = [];
  for (const [id, manifest] of manifests) {
    const installedAs = ids[id] as string;
    networks.push(networkName(installedAs));
    for (const c of Object.values(manifest.containers))
      for (const v of c.volumes) if (v.name) volumes.push(volumeName(installedAs, v.name, CURRENT_NAMING));
    for (const s of Object.keys(manifest.secrets)) secrets.push(secretName(installedAs, s, CURRENT_NAMING));
  }
  return { networks, volumes: [...new Set(volumes)], secrets };
}

/** A free port on 127.0.0.1 for `protocol`, not in `taken`. */
async function freePort(protocol: "tcp" | "udp", taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let port: number;
    if (protocol === "udp") {
      const socket = createSocket("udp4");
      await new Promise<void>((done) => socket.bind(0, "127.0.0.1", done));
      port = socket.address().port;
      await new Promise<void>((done) => socket.close(() => done()));
    } else {
      const server = createServer();
      await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
      const address = server.address();
      await new Promise<void>((done) => server.close(() => done()));
      if (address === null || typeof address === "string") throw new Error("no free port");
      port = address.port;
    }
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error("no free port after 50 attempts");
}

/** Whether something listens on (or holds) `port`: a bind on every address fails. */
async function portInUse(port: number, protocol: "tcp" | "udp"): Promise<boolean> {
  if (protocol === "udp") {
    const socket = createSocket("udp4");
    return new Promise((done) => {
      socket.once("error", () => done(true));
      socket.bind(port, "0.0.0.0", () => socket.close(() => done(false)));
    });
  }
  const server = createServer();
  return new Promise((done) => {
    server.once("error", () => done(true));
    server.listen(port, "0.0.0.0", () => server.close(() => done(false)));
  });
}

/** The apps to gate: those named (every one of them in the directory) plus what they depend on. */
export function selectApps(
  available: readonly SourcedApp[],
  named: readonly string[] | undefined,
): { apps: SourcedApp[]; added: string[] } {
  const byId = new Map(available.map((a) => [a.id, a]));
  const wanted = named ?? available.map((a) => a.id);
  const unknown = wanted.filter((id) => !byId.has(id));
  if (unknown.length > 0)
    throw new GateSetupError(
      `--apps: no app ${unknown.join(", ")} in the apps directory; there are: ${[...byId.keys()].sort().join(", ")}`,
      true,
    );
  const chosen = new Set(wanted);
  const added: string[] = [];
  const visit = (id: string) => {
    for (const dep of byId.get(id)?.manifest.dependencies ?? []) {
      if (!byId.has(dep.id))
        throw new GateSetupError(`${id} depends on ${dep.id}, which is not in the apps directory`, true);
      if (!chosen.has(dep.id)) {
        chosen.add(dep.id);
        added.push(dep.id);
      }
      visit(dep.id);
    }
  };
  for (const id of [...chosen]) visit(id);
  return { apps: available.filter((a) => chosen.has(a.id)), added };
}

type Prepared = {
  apps: Map<string, GateApp>;
  gated: GatedApp[];
  planApps: PlanApp[];
  daemon: DaemonControl;
  podman: GatePodman;
  data: AppData;
  environment: Environment;
  cleanup: (report: { keep: boolean }) => Promise<string[]>;
};

function gateApp(
  id: string,
  installedAs: string,
  manifest: Manifest,
  all: Map<string, Manifest>,
  scale: number,
): GateApp {
  const dependencies = manifest.dependencies
    .map((d) => all.get(d.id))
    .filter((m): m is Manifest => m !== undefined);
  const volumes = new Set<string>();
  for (const c of Object.values(manifest.containers))
    for (const v of c.volumes) if (v.name) volumes.add(v.name);
  return {
    id,
    installedAs,
    manifest,
    keys: Object.keys(manifest.containers)
      .filter((key) => !manifest.containers[key]?.job)
      .sort(),
    volumes: [...volumes].sort(),
    targets: reachTargets(manifest).targets,
    timeouts: stepTimeouts(manifest, dependencies, scale),
  };
}

/**
 * Where the sandbox's stand-ins of the apps' host paths and legacy data paths go. Both may only be
 * under /mnt, /media or /srv (manifest/host-paths.ts): inside the work directory when it is under one of them,
 * else in a directory of their own under /srv.
 */
function sandboxHostRoot(workDir: string): string {
  const inside = join(workDir, "host");
  if (hostPathProblem(join(inside, "app")) === undefined) return inside;
  try {
    const dir = mkdtempSync("/srv/archy-gate-");
    chmodSync(dir, 0o755);
    return dir;
  } catch (error) {
    throw new GateSetupError(
      `the apps' host paths need a directory under /mnt, /media or /srv, and ${workDir} is not under one; creating one under /srv failed (${(error as Error).message}): run the gate as root, or pass --work-dir under /srv or /mnt`,
      true,
    );
  }
}

/** The sandbox: a work directory, the apps' copies, a Podman service and `archy daemon`, as the user. */
async function prepareManaged(
  options: GateOptions,
  mode: ManagedMode,
  chosen: SourcedApp[],
  added: string[],
): Promise<Prepared> {
  const notes: string[] = [];
  if (added.length > 0) notes.push(`added ${added.join(", ")}: the apps named depend on them`);
  let user: RunAs;
  try {
    user = resolveUser(mode.user ?? (isRoot() ? SERVICE_USER : undefined));
  } catch (error) {
    throw new GateSetupError((error as Error).message, true);
  }
  // Always a new directory (inside --work-dir when given): the cleanup removes it whole.
  const parent = mode.workDir ? resolve(mode.workDir) : "/tmp";
  mkdirSync(parent, { recursive: true });
  const workDir = mkdtempSync(join(parent, "archy-gate-"));
  chmodSync(workDir, 0o755);
  const prefix = `g${Math.random().toString(36).slice(2, 6).padEnd(4, "0")}`;
  const runDir = join(workDir, "run");
  const dataDir = join(workDir, "data");
  const appsDir = join(workDir, "apps");
  // Legacy data paths follow host paths' allow-list too (manifest/host-paths.ts).
  const needsHostPaths =
    mode.isolate &&
    chosen.some(
      (a) =>
        Object.values(a.manifest.permissions).some((p) => p.kind === "host-path") ||
        Object.keys(a.manifest.adoption.data_paths).length > 0,
    );
  const hostRoot = needsHostPaths ? sandboxHostRoot(workDir) : join(workDir, "host");
  /** The host root when it is not inside the work directory: removed with it. */
  const ownHostRoot = hostRoot.startsWith(`${workDir}/`) ? [] : [hostRoot];
  for (const dir of [runDir, dataDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    giveTo(user, dir);
  }
  for (const dir of [appsDir, hostRoot]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const socketPath = join(runDir, "podman.sock");
  if (socketPath.length > 100)
    throw new GateSetupError(`--work-dir ${workDir} is too long for a unix socket path`, true);

  // The apps: sandbox copies (or the apps as written), readable by the daemon's user.
  const taken = new Set<number>();
  const ids = Object.fromEntries(chosen.map((a) => [a.id, mode.isolate ? `${prefix}-${a.id}` : a.id]));
  const manifests = new Map<string, Manifest>();
  const substitutions = new Map<string, string[]>();
  const conflicts: string[] = [];
  for (const app of chosen) {
    const target = join(appsDir, ids[app.id] as string);
    cpSync(app.dir, target, { recursive: true, dereference: true });
    let text = app.text;
    if (mode.isolate) {
      const ports: Record<string, number> = {};
      for (const port of publishedPorts(app.text)) ports[port.key] = await freePort(port.protocol, taken);
      const isolated = isolateManifest(app.text, { prefix, ids, ports, hostRoot, device: STAND_IN_DEVICE });
      text = isolated.text;
      substitutions.set(app.id, isolated.substitutions);
      for (const dir of hostPathsOf(app.text, hostRoot)) mkdirSync(dir, { recursive: true, mode: 0o755 });
    } else {
      substitutions.set(app.id, []);
      for (const port of publishedPorts(app.text))
        if (await portInUse(port.host, port.protocol))
          conflicts.push(
            `${app.id}: host port ${port.host}/${port.protocol} is in use (a demo daemon running the sample apps?)`,
          );
    }
    writeFileSync(join(target, "manifest.yml"), text);
    const loaded = await loadManifest(target);
    if (!loaded.ok)
      throw new GateSetupError(
        `the ${mode.isolate ? "sandbox copy" : "copy"} of ${app.id} is invalid: ${loaded.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join("; ")}`,
      );
    manifests.set(app.id, loaded.manifest);
  }
  // Everything under the apps and host directories must be readable by the daemon's user.
  await exec("chmod", ["-R", "u+rwX,go+rX", appsDir, hostRoot]);

  const codeRoot = (await readableBy(user, join(REPO_ROOT, "src", "cli", "main.ts")))
    ? REPO_ROOT
    : stageCode(REPO_ROOT, join(workDir, "code"));
  if (codeRoot !== REPO_ROOT)
    notes.push(`the checkout is not readable by ${user.name}: the daemon runs from a copy in ${codeRoot}`);

  const podman = await startPodmanService(
    user,
    socketPath,
    join(workDir, "podman-service.log"),
    options.onIncident,
  ).catch((error) => {
    throw new GateSetupError(`cannot start a Podman service as ${user.name}: ${(error as Error).message}`);
  });
  const cleanupParts: Array<() => Promise<void>> = [() => podman.close()];
  // A refusal before the daemon starts leaves nothing worth keeping, even with --keep.
  let daemonTried = false;
  try {
    if (!mode.isolate) {
      const existing = (await observe(podman.client)).containers.filter(
        (c) => c.appId && Object.values(ids).includes(c.appId),
      );
      for (const c of existing)
        conflicts.push(
          `${c.appId}: ${user.name}'s Podman already has its container ${c.name} (another daemon's?)`,
        );
      if (conflicts.length > 0)
        throw new GateSetupError(
          `refusing to gate the apps as written, they would collide with what runs here:\n  ${conflicts.join("\n  ")}\nrun without --no-isolate (the gate then uses sandbox copies with free ports), or stop what uses them`,
        );
    }
    // Before anything is installed: every image is in the user's store (the daemon never pulls).
    const missing = await missingImages(imageUses(manifests), (image) => podman.client.images.exists(image));
    if (missing.length > 0)
      throw new GateSetupError(
        missingImagesMessage(missing, {
          user: user.name,
          ...(isRoot()
            ? { runAs: `runuser -u ${user.name} -- env XDG_RUNTIME_DIR=/run/user/${user.uid}` }
            : {}),
        }),
      );

    const port = await freePort("tcp", taken);
    daemonTried = true;
    const daemon = await startManagedDaemon({
      user,
      codeRoot,
      dataDir,
      appsDir,
      listen: { host: "127.0.0.1", port },
      podmanSocket: socketPath,
      logFile: join(workDir, "daemon.log"),
      ...(options.onIncident ? { onIncident: options.onIncident } : {}),
    }).catch((error) => {
      throw new GateSetupError(`the daemon did not start: ${(error as Error).message}`);
    });
    cleanupParts.unshift(() => daemon.close());

    const apps = new Map<string, GateApp>();
    const gated: GatedApp[] = [];
    const planApps: PlanApp[] = [];
    for (const app of chosen) {
      const manifest = manifests.get(app.id) as Manifest;
      const gate = gateApp(
        app.id,
        ids[app.id] as string,
        manifest,
        new Map([...manifests].map(([k, m]) => [ids[k] as string, m])),
        options.timeoutScale,
      );
      apps.set(app.id, gate);
      gated.push({
        id: app.id,
        installedAs: gate.installedAs,
        version: manifest.version,
        containers: gate.keys,
        dependsOn: app.manifest.dependencies.map((d) => d.id),
        timeouts: gate.timeouts,
        substitutions: substitutions.get(app.id) ?? [],
      });
      // The sandbox copy's reachability, said with the app's own id.
      const reachable = reachTargets(manifest).availability;
      planApps.push({
        id: app.id,
        dependsOn: app.manifest.dependencies.map((d) => d.id),
        reachable: reachable.available
          ? reachable
          : { available: false, reason: reachable.reason.replaceAll(gate.installedAs, app.id) },
      });
    }
    const info = await podman.client.info().catch(() => undefined);
    const environment: Environment = {
      mode: "managed",
      daemonUrl: daemon.url,
      podmanVersion: info?.version,
      podmanSocket: socketPath,
      user: user.name,
      host: hostname(),
      workDir,
      ...(ownHostRoot.length > 0 ? { hostRoot } : {}),
      ...(mode.isolate ? { isolation: { prefix } } : {}),
      reboot: { available: false, reason: REBOOT_UNAVAILABLE },
      daemonRestart: { available: true, how: daemon.restartHow as string },
      chaos: { enabled: options.chaos, kinds: [], unavailable: {} },
      notes,
    };
    const data = new AppData(dataDir);
    const cleanup = async ({ keep }: { keep: boolean }): Promise<string[]> => {
      const problems: string[] = [];
      if (keep) {
        await daemon.close();
        await podman.close();
        const objects = podmanObjects(ids, manifests);
        const podmanCommands = [
          ...Object.values(ids).map(
            (id) => `podman rm -f -t 0 $(podman ps -aq --filter label=${LABELS.app}=${id})`,
          ),
          `podman network rm ${objects.networks.join(" ")}`,
          ...(objects.volumes.length > 0 ? [`podman volume rm ${objects.volumes.join(" ")}`] : []),
          ...(objects.secrets.length > 0 ? [`podman secret rm ${objects.secrets.join(" ")}`] : []),
        ];
        return [
          `kept: the work directory ${workDir} (daemon.log, data/) and the apps as the last step left them. To remove them, as ${user.name}: ${podmanCommands.join("; ")}; then, as root: rm -rf ${[workDir, ...ownHostRoot].join(" ")}`,
        ];
      }
      const client = new DaemonClient({ url: daemon.url, tokenFile: daemon.tokenFile });
      // The daemon deletes what it made (data written by container uids too): purge, dependents first.
      const order = [...planApps.map((a) => a.id)].reverse();
      for (const id of order) {
        const installedAs = ids[id] as string;
        try {
          await client.call("package.uninstall", { id: installedAs, purge: true });
          const deadline = Date.now() + 120_000;
          while (Date.now() < deadline) {
            await client.call("package.get", { id: installedAs });
            await new Promise((r) => setTimeout(r, 500));
          }
        } catch {
          // Not installed (any more): done.
        }
      }
      await daemon.close();
      // Whatever is left of exactly these apps, by their labels and names.
      const attempt = async (what: string, work: () => Promise<unknown>) => {
        try {
          await work();
        } catch (error) {
          problems.push(`${what}: ${(error as Error).message}`);
        }
      };
      const installed = new Set(Object.values(ids));
      await attempt("containers", async () => {
        for (const c of (await observe(podman.client)).containers)
          if (c.appId && installed.has(c.appId))
            await podman.client.containers.remove(c.id, { force: true, timeoutSeconds: 0 });
      });
      const objects = podmanObjects(ids, manifests);
      for (const name of objects.networks)
        await attempt(`network ${name}`, async () => {
          if (await podman.client.networks.find(name)) await podman.client.networks.remove(name);
        });
      for (const name of objects.volumes)
        await attempt(`volume ${name}`, async () => {
          if (await podman.client.volumes.find(name)) await podman.client.volumes.remove(name);
        });
      for (const name of objects.secrets)
        await attempt(`secret ${name}`, async () => {
          if (await podman.client.secrets.find(name)) await podman.client.secrets.remove(name);
        });
      await podman.close();
      // Files written by container uids belong to subordinate ids: only root, or the user's namespace, deletes them.
      if (!isRoot())
        await exec("podman", ["unshare", "rm", "-rf", "--one-file-system", dataDir], { timeoutMs: 120_000 });
      for (const dir of [workDir, ...ownHostRoot])
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch (error) {
          problems.push(`work directory ${dir}: ${(error as Error).message}`);
        }
      return problems;
    };
    return { apps, gated, planApps, daemon, podman, data, environment, cleanup };
  } catch (error) {
    for (const part of cleanupParts) await part().catch(() => {});
    if (!mode.keep || !daemonTried)
      for (const dir of [workDir, ...ownHostRoot]) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** An existing daemon: the gate connects to it and its Podman, and installs only what is not there. */
async function prepareExisting(
  options: GateOptions,
  mode: ExistingMode,
  chosen: SourcedApp[],
  added: string[],
): Promise<Prepared> {
  const notes: string[] = [];
  if (added.length > 0) notes.push(`added ${added.join(", ")}: the apps named depend on them`);
  const podman = await connectPodmanSocket(mode.podmanSocket).catch((error) => {
    throw new GateSetupError(
      `${(error as Error).message}: name the daemon user's Podman socket with --podman-socket`,
      true,
    );
  });
  const client = new DaemonClient({ url: mode.url, tokenFile: mode.tokenFile });
  try {
    const available = await client.call("package.available");
    const problems: string[] = [];
    for (const app of chosen) {
      const offered = available.find((a) => a.id === app.id);
      if (!offered)
        problems.push(
          `${app.id} is not offered by the daemon (package.available): its apps directory differs from --apps-dir`,
        );
      else if (offered.installed)
        problems.push(
          `${app.id} is installed on this daemon: the gate installs, stops and uninstalls what it gates, so it only gates apps that are not installed`,
        );
      else if (offered.version !== app.manifest.version)
        problems.push(
          `${app.id}: the daemon offers ${offered.version}, --apps-dir has ${app.manifest.version}`,
        );
    }
    if (problems.length > 0)
      throw new GateSetupError(`refusing to gate on ${mode.url}:\n  ${problems.join("\n  ")}`);
    const missing = await missingImages(imageUses(new Map(chosen.map((a) => [a.id, a.manifest]))), (image) =>
      podman.client.images.exists(image),
    );
    if (missing.length > 0)
      throw new GateSetupError(
        missingImagesMessage(missing, {
          user: "the daemon's user",
          store: `the image store of the Podman at ${mode.podmanSocket}`,
        }),
      );
  } catch (error) {
    await podman.close();
    if (error instanceof GateSetupError) throw error;
    throw new GateSetupError(`the daemon at ${mode.url}: ${(error as Error).message}`);
  }
  const tokenFile = await client.tokenPath();
  const daemon = existingDaemon({
    url: mode.url,
    tokenFile,
    ...(mode.restartCommand ? { restartCommand: mode.restartCommand } : {}),
    ...(mode.rebootCommand ? { rebootCommand: mode.rebootCommand } : {}),
  });
  const manifests = new Map(chosen.map((a) => [a.id, a.manifest]));
  const apps = new Map<string, GateApp>();
  const gated: GatedApp[] = [];
  const planApps: PlanApp[] = [];
  for (const app of chosen) {
    const gate = gateApp(app.id, app.id, app.manifest, manifests, options.timeoutScale);
    apps.set(app.id, gate);
    gated.push({
      id: app.id,
      installedAs: app.id,
      version: app.manifest.version,
      containers: gate.keys,
      dependsOn: app.manifest.dependencies.map((d) => d.id),
      timeouts: gate.timeouts,
      substitutions: [],
    });
    planApps.push({
      id: app.id,
      dependsOn: app.manifest.dependencies.map((d) => d.id),
      reachable: reachTargets(app.manifest).availability,
    });
  }
  const info = await podman.client.info().catch(() => undefined);
  const user = (await exec("id", ["-un"])).stdout.trim();
  return {
    apps,
    gated,
    planApps,
    daemon,
    podman,
    data: new AppData(resolve(mode.dataDir)),
    environment: {
      mode: "existing",
      daemonUrl: mode.url,
      podmanVersion: info?.version,
      podmanSocket: mode.podmanSocket,
      user:
        info?.rootless === false
          ? "root (rootful Podman!)"
          : `the owner of ${mode.podmanSocket} (gate runs as ${user})`,
      host: hostname(),
      reboot: daemon.rebootHow
        ? { available: true, how: daemon.rebootHow }
        : { available: false, reason: REBOOT_NO_COMMAND },
      daemonRestart: daemon.restartHow
        ? { available: true, how: daemon.restartHow }
        : { available: false, reason: daemon.restartUnavailable as string },
      chaos: { enabled: options.chaos, kinds: [], unavailable: {} },
      notes,
    },
    cleanup: async () => {
      await podman.close();
      return [];
    },
  };
}

/** Runs the gate; resolves with its report (the caller writes it and exits with `report.exitCode`). */
export async function runGate(options: GateOptions): Promise<GateReport> {
  const startedAt = Date.now();
  const listing = await loadAppsDir(resolve(options.appsDir)).catch((error) => {
    throw new GateSetupError(`--apps-dir ${options.appsDir}: ${(error as Error).message}`, true);
  });
  if (listing.rejected.length > 0)
    throw new GateSetupError(
      `invalid manifests in ${options.appsDir} (\`archy app validate ${options.appsDir}\` shows why):\n  ${listing.rejected
        .map((r) => `${r.dir}: ${r.issues[0]?.message ?? "?"}`)
        .join("\n  ")}`,
    );
  if (listing.apps.length === 0)
    throw new GateSetupError(
      existsSync(options.appsDir)
        ? `--apps-dir ${options.appsDir}: no app in it (an app is a directory with a manifest.yml)`
        : `--apps-dir ${options.appsDir}: no such directory`,
      true,
    );
  const { apps: chosen, added } = selectApps(listing.apps, options.apps);

  const incidents: string[] = [];
  options = {
    ...options,
    onIncident: (message) => {
      incidents.push(message);
      options.progress(`      INCIDENT: ${message.split("\n")[0]}`);
    },
  };
  const prepared =
    options.mode.kind === "managed"
      ? await prepareManaged(options, options.mode, chosen, added)
      : await prepareExisting(options, options.mode, chosen, added);
  const { environment } = prepared;

  const daemonRestart: Availability = environment.daemonRestart.available
    ? { available: true }
    : { available: false, reason: environment.daemonRestart.reason as string };
  let aborted: string | undefined;
  let cells: GateReport["cells"] = [];
  let setup: GateReport["setup"] = [];
  let faults: GateReport["faults"] = [];
  // Every start of a gated app's containers, from Podman's events: the ones the gate did not
  // cause are restarts of containers that should have been left alone (restarts.ts).
  const starts: ContainerStart[] = [];
  const gatedIds = new Map([...prepared.apps].map(([id, app]) => [app.installedAs, id]));
  let watching: () => void = () => {};
  const watched = new Promise<void>((resolve) => {
    watching = resolve;
  });
  const watch = prepared.podman.client.events({
    labels: [MANAGED_FILTER],
    onStatus: () => watching(),
    onEvent: (event) => {
      const app = gatedIds.get(event.labels[LABELS.app] ?? "");
      if (event.type !== "container" || event.action !== "start" || !app) return;
      const container = event.labels[LABELS.container] ?? event.name ?? event.id;
      starts.push({ at: Number(event.timeNano / 1_000_000n), app, container, id: event.id });
    },
  });
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  let plan: ReturnType<typeof planGate> | undefined;
  try {
    // The first cell starts containers: the stream must be open (or have failed) by then.
    await Promise.race([watched, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    plan = planGate({
      iterations: options.iterations,
      apps: prepared.planApps,
      ...(options.steps ? { steps: options.steps } : {}),
      destructive: options.destructive,
      daemonRestart,
      reboot: environment.reboot.available
        ? { available: true }
        : { available: false, reason: environment.reboot.reason ?? REBOOT_UNAVAILABLE },
    });
    const kinds: FaultKind[] = [];
    const unavailable: Record<string, string> = {};
    for (const kind of FAULT_KINDS) {
      const why =
        kind === "podman-restart"
          ? prepared.podman.restartUnavailable
          : kind === "daemon-sigkill"
            ? prepared.daemon.crashUnavailable
            : undefined;
      if (why) unavailable[kind] = why;
      else kinds.push(kind);
    }
    environment.chaos = options.chaos
      ? { enabled: true, seed, kinds, unavailable }
      : { enabled: false, kinds: [], unavailable: {} };
    const planned = options.chaos
      ? planFaults({
          plan,
          kinds,
          containers: Object.fromEntries([...prepared.apps].map(([id, app]) => [id, app.keys])),
          seed,
        })
      : [];
    const info = await fetch(`${prepared.daemon.url}/rpc/v1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
    })
      .then(
        (r) =>
          r.json() as Promise<{ result?: { version: string; backend?: string; backendReason?: string } }>,
      )
      .catch(() => undefined);
    if (info?.result?.version) environment.daemonVersion = info.result.version;
    if (info?.result?.backend)
      environment.daemonBackend = {
        backend: info.result.backend,
        ...(info.result.backendReason ? { reason: info.result.backendReason } : {}),
      };
    options.progress(
      `gate: ${plan.apps.length} app(s) × ${plan.steps.length} step(s) × ${options.iterations} iteration(s) against ${prepared.daemon.url}${
        options.chaos ? `, chaos on (seed ${seed}, ${planned.length} faults)` : ""
      }`,
    );
    const runner = new Runner({
      client: new DaemonClient({ url: prepared.daemon.url, tokenFile: prepared.daemon.tokenFile }),
      podman: prepared.podman,
      daemon: prepared.daemon,
      data: prepared.data,
      apps: prepared.apps,
      plan,
      faults: planned,
      settleMs: options.settleMs ?? 2_000,
      progress: options.progress,
      ...(options.interrupted ? { interrupted: options.interrupted } : {}),
      keep: options.mode.kind === "managed" && options.mode.keep,
      stopAtFailure: options.stopAtFailure === true,
    });
    const result = await runner.run();
    cells = result.cells;
    setup = result.setup;
    faults = result.faults;
    if (result.interrupted) aborted = "interrupted (Ctrl-C) before the matrix was complete";
  } catch (error) {
    aborted = (error as Error).message;
  } finally {
    await watch.stop();
    const keep = options.mode.kind === "managed" && options.mode.keep;
    const problems = await prepared.cleanup({ keep }).catch((error) => [(error as Error).message]);
    if (keep) environment.notes.push(...problems);
    else if (problems.length > 0)
      environment.notes.push(`cleanup left something behind: ${problems.join("; ")}`);
  }
  const finished = Date.now();
  return buildReport({
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - startedAt,
    options: {
      iterations: options.iterations,
      apps: prepared.gated.map((a) => a.id),
      steps: plan?.steps ?? options.steps ?? [...STEPS],
      destructive: options.destructive,
      chaos: options.chaos,
      timeoutScale: options.timeoutScale,
    },
    environment,
    apps: plan ? plan.apps.map((id) => prepared.gated.find((g) => g.id === id) as GatedApp) : prepared.gated,
    steps: plan?.steps ?? [],
    cells,
    setup,
    faults,
    restarts: unexpectedStarts(starts, cells, setup, faults),
    incidents,
    ...(aborted ? { aborted } : {}),
  });
}
