/**
 * Integration tests of the orchestrator against the real rootless Podman of the test user, through
 * `orchestrator-driver.ts` (a stand-in daemon speaking JSON lines).
 *
 * A `Lab` is one test file's private world: a unique prefix for every app id and Podman object, a
 * temporary directory owned by the test user (the driver's state and data directories, the test
 * copies of the sample manifests, stand-ins for host paths), a Podman service of its own (so that
 * chaos tests may kill it without disturbing anyone else) and the drivers it started. `close()`
 * kills its drivers and removes exactly what carries its prefix: containers, networks, volumes,
 * secrets, then the directory.
 *
 * A `Driver` is one driver process, started as the test user from a copy of the repository that
 * user can read (CI runs as root from a folder it may not). It can be SIGKILLed (its whole process
 * group) and started again over the same directories.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { isScalar, parseDocument, YAMLMap, YAMLSeq } from "yaml";
import { TEST_USER } from "../../src/host/layout.ts";
import { renameTemplateApps } from "../../src/manifest/interpolation.ts";
import { loadManifest } from "../../src/manifest/load.ts";
import { CURRENT_NAMING, containerName } from "../../src/manifest/naming.ts";
import { makeHostRoot } from "./host-root.ts";
import { startPodmanService, type TestPodmanService } from "./podman-service.ts";
import { podmanServicesOn } from "./processes.ts";
import { podman, runAsTestUser, testUser, testUserEnv } from "./rootless.ts";
import { APPS_DIR, freePort, runPrefix } from "./samples.ts";
import { referencedEnv, ScanRecorder, storedManifest } from "./secret-scan.ts";
import { stageForTestUser } from "./stage.ts";
import { sleep, waitFor } from "./wait.ts";

export { sleep };

const isRoot = process.getuid?.() === 0;

/** Drivers of this process still alive: a test process that dies early must not leave them running. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live)
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {}
});
const DRIVER = "test/support/orchestrator-driver.ts";

export type Phase = string;
export type AppSummary = { id: string; phase: Phase; desired: string };
export type Message = {
  ready?: boolean;
  apps?: AppSummary[];
  reply?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  code?: string;
  event?: {
    type: string;
    appId?: string;
    phase?: Phase;
    reason?: string;
    state?: string;
    operationId?: string;
  };
  log?: string;
  message?: string;
  crash?: string;
  n?: number;
  podman?: { socketPath: string; origin: string; pid?: number };
};
export type Accepted = { operationId: string; appId: string; kind: string; existing: boolean };
export type StoredContainer = {
  key: string;
  name: string;
  containerId: string;
  state: string;
  restarts: number;
  observedAt: number;
};
export type ListedApp = AppSummary & { reason?: string; containers: StoredContainer[] };
export type OperationRecord = {
  operation: { id: string; kind: string; state: string; error?: string } | undefined;
  logs: Array<{ level: string; message: string; at: number }>;
};

export type DriverOptions = {
  /** `KIND:N`: the driver SIGKILLs itself before the Nth action of that kind. */
  crashBefore?: string;
  resyncMs?: number;
  /** The first delay between restarts of an unhealthy container (default: the daemon's). */
  healthRestartBaseMs?: number;
  /** The first delay of the per-app backoff after a failure (default: the daemon's). */
  backoffBaseMs?: number;
  /** The wait before a pull whose registry cannot be reached is tried again (3 tries in all). */
  pullBaseMs?: number;
  /** What Podman's image storage says it has free, in bytes (a full disk without filling one). */
  storageFreeBytes?: number;
  /** The margin an update's window adds to what its health checks need (default: the daemon's). */
  updateMarginMs?: number;
  /**
   * Which Podman service: the lab's own (default), or `spawn` to let the driver find or start one
   * itself on `socketPath` (its `--own-socket`), as the real daemon does.
   */
  podman?: { kind: "lab" } | { kind: "spawn"; socketPath: string };
};

/** One driver process. */
export class Driver {
  readonly child: ChildProcess;
  readonly messages: Message[] = [];
  readonly ready: Promise<Message>;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt = Date.now();
  #next = 1;
  #waiters: Array<{ test: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  #stderr = "";

  /**
   * `observer` sees everything the driver writes (the lab records it for the secrets scan, see
   * secret-scan.ts): each stdout line with its parsed message, and stderr as it comes.
   */
  constructor(
    child: ChildProcess,
    observer: { line?: (line: string, message: Message) => void; stderr?: (text: string) => void } = {},
  ) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-8000);
      observer.stderr?.(chunk.toString());
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      let message: Message;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        message = { log: "stdout", message: line };
      }
      observer.line?.(line, message);
      this.messages.push(message);
      for (const waiter of [...this.#waiters])
        if (waiter.test(message)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
    });
    this.ready = this.waitFor((m) => m.ready === true, 60_000, "the ready line");
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first message (already seen or still to come) that passes `test`. */
  waitFor(test: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
    const seen = this.messages.find(test);
    if (seen) return Promise.resolve(seen);
    return this.#waitNew(test, timeoutMs, what);
  }

  /** The next message from now on that passes `test`. */
  #waitNew(test: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (m: Message) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`driver ${this.pid}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      void this.exited.then(({ code, signal }) => {
        if (!this.#waiters.includes(waiter)) return;
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new Error(`driver ${this.pid} exited (${signal ?? code}) before ${what}\n${this.tail()}`));
      });
    });
  }

  /** Sends a command; resolves with its reply (ok or not). */
  async send(op: string, fields: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<Message> {
    const id = this.#next++;
    const reply = this.#waitNew((m) => m.reply === id, timeoutMs, `reply to ${op} #${id}`);
    this.child.stdin?.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    return reply;
  }

  /** Sends a command; returns its result, or throws with the driver's error. */
  async call<T = unknown>(op: string, fields: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    const reply = await this.send(op, fields, timeoutMs);
    if (!reply.ok)
      throw Object.assign(new Error(`${op} ${JSON.stringify(fields)} failed: ${reply.error}`), {
        code: reply.code,
      });
    return reply.result as T;
  }

  /** Waits (inside the driver) until `app` reaches `phase`; `removed` means gone from the store. */
  async waitPhase(app: string, phase: Phase | "removed", timeoutMs = 60_000): Promise<void> {
    await this.call("wait", { app, phase, timeoutMs }, timeoutMs + 10_000);
  }

  list(): Promise<ListedApp[]> {
    return this.call<ListedApp[]>("list");
  }

  async app(id: string): Promise<ListedApp | undefined> {
    return (await this.list()).find((a) => a.id === id);
  }

  operation(id: string): Promise<OperationRecord> {
    return this.call<OperationRecord>("operation", { operation: id });
  }

  /** Waits until an operation has finished; returns it. */
  async operationDone(id: string, timeoutMs = 60_000): Promise<OperationRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.operation(id);
      const state = record.operation?.state;
      if (state === "succeeded" || state === "failed") return record;
      if (Date.now() > deadline)
        throw new Error(`operation ${id} still ${state} after ${timeoutMs} ms\n${this.tail()}`);
      await sleep(200);
    }
  }

  /** SIGKILL to the driver's whole process group; resolves once it has exited. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {}
    await this.exited;
  }

  /** Asks the driver to stop its loops and exit; SIGKILL if it does not within 15 s. */
  async exit(): Promise<void> {
    if (!this.alive) return;
    this.child.stdin?.write(`${JSON.stringify({ id: 0, op: "exit" })}\n`);
    const done = await Promise.race([this.exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) await this.kill();
  }

  /** The last lines the driver wrote, for failure messages. */
  tail(lines = 40): string {
    const out = this.messages
      .slice(-lines)
      .map((m) => JSON.stringify(m))
      .join("\n");
    return `--- driver stdout (last ${lines}) ---\n${out}\n--- stderr ---\n${this.#stderr.slice(-3000)}`;
  }
}

/** A test copy of a sample app: unique id and names, free host ports, short timeouts. */
export type TestApp = {
  /** The sample it was made from, e.g. `notes`. */
  sample: string;
  id: string;
  dir: string;
  /** Host ports by `<container>/<containerPort>` (published on 127.0.0.1). */
  ports: Record<string, number>;
  /** Container names by key. */
  names: Record<string, string>;
};

export type TestAppOptions = {
  /** A different version, for updates. */
  version?: string;
  /** Extra environment, by container key (changes that container's spec hash). */
  env?: Record<string, Record<string, string>>;
  /** Keep these ports (a changed manifest of the same app). */
  ports?: Record<string, number>;
  /** A name for the copy's directory (several copies of one app). */
  variant?: string;
  /** Legacy container names to adopt, by container key (replaces the sample's own; not prefixed). */
  adopt?: Record<string, string[]>;
  /** An app directory to copy instead of the sample's (an app made by `archy app new` or `import`). */
  source?: string;
  /**
   * Keep the manifest's `stop_timeout` and health timings instead of the lab's short ones: a real
   * program (a database initialising its cluster) needs the time its packager gave it.
   */
  ownTimings?: boolean;
};

/** One test file's private world on the test user's Podman. */
export class Lab {
  readonly prefix: string;
  readonly root: string;
  readonly stateDir: string;
  readonly dataDir: string;
  readonly manifestsDir: string;
  readonly hostRoot: string;
  readonly service: TestPodmanService;
  readonly drivers = new Set<Driver>();
  /** Every driver ever started, alive or not (their output names the services they started). */
  readonly #started: Driver[] = [];
  readonly #staged = stageForTestUser();
  /** What the drivers produce and the secrets they generate, for the suite's secrets scan. */
  readonly scan: ScanRecorder;
  /** `podman inspect` of app containers in flight (see `recordPodmanEnv`). */
  readonly #inspections = new Set<Promise<void>>();
  readonly #inspected = new Set<string>();

  private constructor(prefix: string, root: string, hostRoot: string, service: TestPodmanService) {
    this.prefix = prefix;
    this.root = root;
    this.stateDir = join(root, "state");
    this.dataDir = join(root, "data");
    this.manifestsDir = join(root, "manifests");
    this.hostRoot = hostRoot;
    this.service = service;
    this.scan = new ScanRecorder("orchestrator-driver", prefix, {
      secretsRoot: join(this.stateDir, "secrets"),
    });
  }

  /**
   * Records a driver's stdout line for the secrets scan (events apart from log lines); an app that
   * reaches `running` has its containers' environment recorded once, as `podman inspect` shows it.
   */
  #observe(line: string, message: Message): void {
    if (message.event) {
      this.scan.event(line);
      if (message.event.type === "app" && message.event.phase === "running" && message.event.appId)
        this.recordPodmanEnv(message.event.appId, join(this.stateDir, "store.db"));
    } else this.scan.log(line);
  }

  /**
   * Records, once per app, the `Config.Env` that `podman inspect` shows for its containers, with
   * the variables its stored manifest fills from references (see secret-scan.ts). In the
   * background: `close()` waits for it.
   */
  recordPodmanEnv(appId: string, storePath: string, recorder: ScanRecorder = this.scan): void {
    const key = `${storePath}\0${appId}`;
    if (this.#inspected.has(key)) return;
    this.#inspected.add(key);
    const inspection = (async () => {
      const ids = (await this.podman(["ps", "-a", "-q", "--filter", `label=io.archipelago.app=${appId}`]))
        .split("\n")
        .filter((id) => id.trim() !== "");
      if (ids.length === 0) return;
      const version = (await this.podman(["version", "--format", "{{.Client.Version}}"])).trim();
      const manifest = storedManifest(storePath, appId);
      const raw = JSON.parse(await this.podman(["container", "inspect", ...ids])) as Array<{
        Name: string;
        Config: { Env: string[] | null; Labels: Record<string, string> | null };
      }>;
      for (const c of raw) {
        const containerKey = c.Config.Labels?.["io.archipelago.container"] ?? "";
        recorder.podman({
          container: c.Name,
          app: appId,
          key: containerKey,
          podmanVersion: version,
          env: c.Config.Env ?? [],
          secretEnv: referencedEnv(manifest?.text ?? "", containerKey, manifest?.envFiles),
        });
      }
    })().catch(() => {
      // The container went away meanwhile (a test removed it): nothing to record.
    });
    this.#inspections.add(inspection);
    void inspection.then(() => this.#inspections.delete(inspection));
  }

  static async create(): Promise<Lab> {
    const prefix = runPrefix();
    const root = mkdtempSync(`/tmp/archy-orch-${prefix}-`);
    const hostRoot = makeHostRoot(`orch-${prefix}`);
    const service = await startPodmanService(`orch-${prefix}`).catch((error) => {
      for (const dir of [root, hostRoot]) rmSync(dir, { recursive: true, force: true });
      throw error;
    });
    const lab = new Lab(prefix, root, hostRoot, service);
    for (const dir of [lab.stateDir, lab.dataDir, lab.hostRoot]) mkdirSync(dir, { recursive: true });
    mkdirSync(lab.manifestsDir, { recursive: true, mode: 0o755 });
    // The stand-in for the bootstrap directory mini-node may read (a host-path permission).
    mkdirSync(join(lab.hostRoot, "srv/mini-node/bootstrap"), { recursive: true, mode: 0o755 });
    writeFileSync(join(lab.hostRoot, "srv/mini-node/bootstrap/blocks.dat"), "bootstrap\n", { mode: 0o644 });
    if (isRoot)
      for (const dir of [root, lab.stateDir, lab.dataDir]) chownSync(dir, testUser.uid, testUser.gid);
    return lab;
  }

  /** The driver's state and data directories; new drivers reuse them (a daemon restart). */
  async startDriver(options: DriverOptions = {}): Promise<Driver> {
    const args = [
      join(this.#staged.dir, DRIVER),
      "--state",
      this.stateDir,
      "--data",
      this.dataDir,
      "--resync-ms",
      String(options.resyncMs ?? 500),
    ];
    const podmanChoice = options.podman ?? { kind: "lab" };
    if (podmanChoice.kind === "lab") args.push("--socket", this.service.socketPath);
    else args.push("--own-socket", podmanChoice.socketPath);
    if (options.crashBefore) args.push("--crash-before", options.crashBefore);
    if (options.healthRestartBaseMs !== undefined)
      args.push("--health-restart-base-ms", String(options.healthRestartBaseMs));
    if (options.backoffBaseMs !== undefined) args.push("--backoff-base-ms", String(options.backoffBaseMs));
    if (options.pullBaseMs !== undefined) args.push("--pull-base-ms", String(options.pullBaseMs));
    if (options.updateMarginMs !== undefined) args.push("--update-margin-ms", String(options.updateMarginMs));
    if (options.storageFreeBytes !== undefined)
      args.push("--storage-free-bytes", String(options.storageFreeBytes));
    const env = testUserEnv();
    const argv = [this.#staged.node, ...args];
    const [file, fileArgs] = isRoot
      ? [
          "runuser",
          ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        ]
      : [argv[0] as string, argv.slice(1)];
    const child = spawn(file, fileArgs, {
      cwd: this.#staged.dir,
      env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    live.add(child);
    child.once("exit", () => live.delete(child));
    const driver = new Driver(child, {
      line: (line, message) => this.#observe(line, message),
      stderr: (text) => this.scan.chunk(text),
    });
    this.drivers.add(driver);
    this.#started.push(driver);
    void driver.exited.then(() => this.drivers.delete(driver));
    return driver;
  }

  /** Starts a driver and waits for its ready line. */
  async driver(options: DriverOptions = {}): Promise<Driver> {
    const driver = await this.startDriver(options);
    await driver.ready;
    return driver;
  }

  /** Edits a test app's manifest (its YAML document, comments kept), then checks it is still valid. */
  async editManifest(app: TestApp, edit: (doc: YAMLMap) => void): Promise<void> {
    const path = join(app.dir, "manifest.yml");
    const doc = parseDocument(readFileSync(path, "utf8"));
    edit(doc.contents as YAMLMap);
    writeFileSync(path, doc.toString(), { mode: 0o644 });
    const loaded = await loadManifest(path);
    if (!loaded.ok) throw new Error(`the edited manifest is invalid: ${JSON.stringify(loaded.issues)}`);
  }

  /**
   * Writes a test copy of sample `sample` under the lab's manifest directory and validates it:
   * ids `<prefix>-<id>` (dependencies and references follow), container and legacy names prefixed,
   * every host port a free one on 127.0.0.1, host paths and devices replaced by stand-ins, stop
   * timeouts of 2 s and health checks every second (900 ms probe timeout).
   */
  async app(sample: string, options: TestAppOptions = {}): Promise<TestApp> {
    const id = this.id(sample);
    const dir = join(this.manifestsDir, options.variant ? `${id}-${options.variant}` : id);
    rmSync(dir, { recursive: true, force: true });
    cpSync(options.source ?? join(APPS_DIR, sample), dir, { recursive: true });
    readableByAll(dir); // the checkout's modes may keep the test user out (CI's umask)
    const path = join(dir, "manifest.yml");
    const doc = parseDocument(readFileSync(path, "utf8"));
    doc.set("id", id);
    if (options.version) doc.set("version", options.version);
    const dependencies = doc.get("dependencies");
    if (dependencies instanceof YAMLSeq)
      for (const dependency of dependencies.items as YAMLMap[])
        dependency.set("id", this.id(String(dependency.get("id"))));
    const ports: Record<string, number> = {};
    const names: Record<string, string> = {};
    const containers = doc.get("containers") as YAMLMap;
    const keys = containers.items.map((pair) => String((pair.key as { value: unknown }).value ?? pair.key));
    for (const key of keys) {
      const c = containers.get(key) as YAMLMap;
      const explicit = c.get("container_name");
      if (explicit !== undefined) c.set("container_name", `${this.prefix}-${explicit}`);
      const environment = c.get("environment");
      if (environment instanceof YAMLMap) {
        for (const pair of environment.items) {
          const value = pair.value;
          if (value instanceof YAMLMap && value.has("app"))
            value.set("app", this.id(String(value.get("app"))));
          if (isScalar(value) && typeof value.value === "string")
            value.value = renameTemplateApps(value.value, (app) => this.id(app));
        }
        for (const [name, value] of Object.entries(options.env?.[key] ?? {})) environment.set(name, value);
      } else if (options.env?.[key]) c.set("environment", options.env[key]);
      const files = c.get("secrets");
      if (files instanceof YAMLSeq)
        for (const file of files.items as YAMLMap[])
          if (file.has("app")) file.set("app", this.id(String(file.get("app"))));
      const published = c.get("ports");
      if (published instanceof YAMLSeq)
        for (const port of published.items as YAMLMap[]) {
          if (!port.has("host")) continue;
          const protocol = (port.get("protocol") as "tcp" | "udp" | undefined) ?? "tcp";
          const name = `${key}/${port.get("container")}${protocol === "udp" ? "/udp" : ""}`;
          const fresh = options.ports?.[name] ?? (await freePort(protocol));
          port.set("host", fresh);
          port.set("bind", "127.0.0.1");
          ports[name] = fresh;
        }
      const volumes = c.get("volumes");
      if (volumes instanceof YAMLSeq)
        for (const volume of volumes.items as YAMLMap[])
          if (volume.has("host_path")) volume.set("host_path", `${this.hostRoot}${volume.get("host_path")}`);
      if (options.ownTimings) continue;
      c.set("stop_timeout", "2s");
      const health = c.get("health");
      if (health instanceof YAMLMap) {
        health.set("interval", "1s");
        health.set("start_period", "1s");
        health.set("timeout", "900ms");
      }
    }
    const permissions = doc.get("permissions");
    if (permissions instanceof YAMLMap)
      for (const pair of permissions.items) {
        const permission = pair.value as YAMLMap;
        if (permission.get("kind") === "host-path")
          permission.set("path", `${this.hostRoot}${permission.get("path")}`);
        if (permission.get("kind") === "device") permission.set("path", "/dev/zero");
      }
    const adoption = doc.get("adoption");
    if (adoption instanceof YAMLMap) {
      const legacy = adoption.get("containers");
      if (legacy instanceof YAMLMap)
        for (const pair of legacy.items) {
          const list = pair.value as YAMLSeq;
          list.items = list.items.map(
            (item) => `${this.prefix}-${(item as { value: unknown }).value ?? item}`,
          );
        }
      const volumes = adoption.get("volumes");
      if (volumes instanceof YAMLMap)
        for (const pair of volumes.items)
          pair.value = `${this.prefix}-${(pair.value as { value: unknown }).value ?? pair.value}`;
      const paths = adoption.get("data_paths");
      if (paths instanceof YAMLMap)
        for (const pair of paths.items)
          pair.value = `${this.hostRoot}${(pair.value as { value: unknown }).value ?? pair.value}`;
    }
    if (options.adopt) {
      if (!(doc.get("adoption") instanceof YAMLMap)) doc.set("adoption", doc.createNode({}));
      (doc.get("adoption") as YAMLMap).set("containers", doc.createNode(options.adopt));
    }
    writeFileSync(path, doc.toString(), { mode: 0o644 });
    const loaded = await loadManifest(path);
    if (!loaded.ok)
      throw new Error(
        `the test copy of ${sample} is invalid:\n${loaded.issues.map((i) => `  ${i.line}:${i.column} ${i.message}`).join("\n")}\n${doc.toString()}`,
      );
    // The names a fresh install gives (the driver's store is new: the current naming).
    for (const key of keys) names[key] = containerName(loaded.manifest, key, CURRENT_NAMING);
    return { sample, id, dir, ports, names };
  }

  /** The id of a sample's test copy. */
  id(sample: string): string {
    return `${this.prefix}-${sample}`;
  }

  /** `podman ARGS` as the test user (its own libpod, not the lab's service). */
  podman(args: string[], timeoutMs = 60_000): Promise<string> {
    return podman(args, { timeoutMs });
  }

  /** `podman inspect` of a container, or undefined when it does not exist. */
  async inspect(nameOrId: string): Promise<ContainerFacts | undefined> {
    const result = await runAsTestUser(["podman", "container", "inspect", nameOrId]);
    if (result.code !== 0) {
      if (/no such container/i.test(result.stderr)) return undefined;
      throw new Error(`podman inspect ${nameOrId} failed: ${result.stderr}`);
    }
    const [raw] = JSON.parse(result.stdout) as RawInspect[];
    if (!raw) return undefined;
    return {
      id: raw.Id,
      name: raw.Name,
      running: raw.State.Running,
      status: raw.State.Status,
      startedAt: raw.State.StartedAt,
      createdAt: raw.Created,
      labels: raw.Config.Labels ?? {},
    };
  }

  /** Every container (any state) whose name starts with this lab's prefix, by name. */
  async containers(): Promise<Map<string, { id: string; state: string; app?: string; key?: string }>> {
    const out = await this.podman(["ps", "-a", "--format", "json"]);
    const all = (JSON.parse(out || "[]") as RawPs[]).filter(
      (c) =>
        c.Names.some((n) => n.startsWith(`${this.prefix}-`)) ||
        c.Labels?.["io.archipelago.app"]?.startsWith(`${this.prefix}-`),
    );
    return new Map(
      all.map((c) => [
        c.Names[0] as string,
        {
          id: c.Id,
          state: c.State,
          app: c.Labels?.["io.archipelago.app"],
          key: c.Labels?.["io.archipelago.container"],
        },
      ]),
    );
  }

  /** The host directory of an app volume. */
  volumeDir(app: TestApp | string, volume: string): string {
    return join(this.dataDir, "apps", typeof app === "string" ? app : app.id, "volumes", volume);
  }

  appDataDir(app: TestApp | string): string {
    return join(this.dataDir, "apps", typeof app === "string" ? app : app.id);
  }

  secretsDir(app: TestApp | string): string {
    return join(this.stateDir, "secrets", typeof app === "string" ? app : app.id);
  }

  /** The generated secrets of an app, as files: name → content. */
  async secretFiles(app: TestApp | string): Promise<Record<string, string>> {
    const dir = this.secretsDir(app);
    const result = await runAsTestUser([
      "sh",
      "-c",
      `cd "${dir}" 2>/dev/null && for f in *; do [ -f "$f" ] && printf '%s\\0%s\\0' "$f" "$(cat "$f")"; done; true`,
    ]);
    const parts = result.stdout.split("\0");
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i] as string] = parts[i + 1] as string;
    return out;
  }

  /** A file the test user (or, inside its user namespace, a container uid) can read. */
  async readFile(path: string): Promise<string | undefined> {
    if (isRoot) return readFile(path, "utf8").catch(() => undefined);
    const result = await runAsTestUser(["podman", "unshare", "cat", path]);
    return result.code === 0 ? result.stdout : undefined;
  }

  async exists(path: string): Promise<boolean> {
    const result = await runAsTestUser(["podman", "unshare", "test", "-e", path]);
    return result.code === 0;
  }

  /** Runs a shell command in a container (as its user); returns stdout. */
  /** Runs a shell script in a running container; a failure says what state the container was in. */
  async exec(container: string, script: string): Promise<string> {
    try {
      return await this.podman(["exec", container, "/bin/sh", "-c", script]);
    } catch (error) {
      const facts = await this.inspect(container).catch(() => undefined);
      const state = facts ? `${facts.status}, started at ${facts.startedAt}` : "not there";
      throw new Error(`${(error as Error).message}\n(${container} is ${state} now)`);
    }
  }

  /** Podman secrets of this lab, by name. */
  async podmanSecrets(): Promise<string[]> {
    const out = await this.podman(["secret", "ls", "--format", "{{.Name}}"]);
    return out.split("\n").filter((n) => n.startsWith(`archy-${this.prefix}-`));
  }

  /**
   * The Podman services that drivers started on sockets inside the lab's directory and that still
   * listen there: found by their command line, never by the pid a driver reported (a service killed
   * or restarted since has left its pid to whatever process started next).
   */
  spawnedServices(): number[] {
    const sockets = new Set<string>();
    for (const driver of this.#started)
      for (const m of driver.messages) {
        const found = /started podman system service \(pid \d+\) on (\S+?),/.exec(m.message ?? "");
        if (found?.[1]?.startsWith(`${this.root}/`)) sockets.add(found[1]);
      }
    return [...sockets].flatMap((socket) => podmanServicesOn(socket));
  }

  /** Kills the lab's drivers and removes exactly what it created. */
  async close(): Promise<void> {
    for (const driver of [...this.drivers]) await driver.kill();
    await Promise.all([...this.#inspections]);
    this.scan.storeRecords(join(this.stateDir, "store.db"));
    this.scan.close();
    for (const pid of this.spawnedServices())
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        errors.push(`${what}: ${(error as Error).message}`);
      }
    };
    await attempt("containers", async () => {
      const ids = [...(await this.containers()).values()].map((c) => c.id);
      if (ids.length > 0) await this.podman(["rm", "-f", "-t", "0", ...ids], 120_000);
    });
    const mine = (names: string) =>
      names
        .split("\n")
        .map((n) => n.trim())
        .filter((n) => n.startsWith(`archy-${this.prefix}-`) || n.startsWith(`${this.prefix}-`));
    await attempt("networks", async () => {
      const names = mine(await this.podman(["network", "ls", "--format", "{{.Name}}"]));
      if (names.length > 0) await this.podman(["network", "rm", "-f", ...names]);
    });
    await attempt("volumes", async () => {
      const names = mine(await this.podman(["volume", "ls", "--format", "{{.Name}}"]));
      if (names.length > 0) await this.podman(["volume", "rm", "-f", ...names]);
    });
    await attempt("secrets", async () => {
      const names = mine(await this.podman(["secret", "ls", "--format", "{{.Name}}"]));
      if (names.length > 0) await this.podman(["secret", "rm", ...names]);
    });
    await attempt("service", () => this.service.close());
    await attempt("directory", async () => {
      // Files written by container uids belong to subordinate ids: delete inside the user namespace.
      for (const dir of [this.root, this.hostRoot]) {
        if (!isRoot) await runAsTestUser(["podman", "unshare", "rm", "-rf", dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    });
    if (errors.length > 0) process.stderr.write(`lab ${this.prefix} cleanup: ${errors.join("; ")}\n`);
  }
}

export type ContainerFacts = {
  id: string;
  name: string;
  running: boolean;
  status: string;
  startedAt: string;
  createdAt: string;
  labels: Record<string, string>;
};

type RawInspect = {
  Id: string;
  Name: string;
  Created: string;
  State: { Running: boolean; Status: string; StartedAt: string };
  Config: { Labels: Record<string, string> | null };
};
type RawPs = { Id: string; Names: string[]; State: string; Labels: Record<string, string> | null };

function readableByAll(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  chmodSync(path, stat.isDirectory() ? 0o755 : 0o644);
  if (stat.isDirectory()) for (const name of readdirSync(path)) readableByAll(join(path, name));
}

/** `waitFor` with positional arguments (the ceiling defaults to waitFor's, 60 s). */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs?: number,
  intervalMs?: number,
): Promise<T> {
  return waitFor(check, { what, timeoutMs, intervalMs });
}

/** GET http://127.0.0.1:<port><path> (loopback only); the status and body, or undefined when nothing answers. */
export async function httpGet(
  port: number,
  path = "/",
): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}
