/**
 * The lifecycle benchmark: what the orchestrator costs on top of Podman, measured side by side and
 * interleaved in one run against what an operator would type for the same container.
 *
 * 1. install → running: a one-container app (no health check, no hooks) installed through the real
 *    Orchestrator — from the install request (manifest read and validated, intent recorded) to the
 *    app's phase `running` (the reconciler's event) with its container running — against a bare
 *    `podman run -d` of the equivalent container (same image, command, environment, published port,
 *    capabilities, stop signal and timeout, labels, on a network of its own), from spawning `podman`
 *    to its exit. Target: orchestrator p50 ≤ 1.25 × bare p50. The same app with an HTTP health check
 *    is measured too (to `running`, and to its first `healthy` verdict), for information.
 * 2. stop → stopped: through the orchestrator (request to phase `stopped`, container stopped) against
 *    a bare `podman stop` of the bare container. Both honour SIGTERM (the test image's `serve`).
 *    Target: p50 ≤ 1.25 × bare p50.
 * 3. one reconcile pass over 10, 50 and 100 installed, converged apps where nothing changed: Podman
 *    calls per pass (must not grow with the number of apps) and time per pass. The apps are real:
 *    installed through the orchestrator, one running `sleep` container each on its own app network.
 *
 * The orchestrator runs as the test user (archy-test), whose rootless Podman runs the containers, in
 * a process of its own (bench/lifecycle-agent.ts, run from a copy of the repository that user can
 * read); it reports its own times (the pipe to it is not in them). Both sides use one dedicated
 * `podman system service --time=0` of the test user on a temporary socket (the orchestrator through
 * the API, the CLI alongside it on the same storage); a `sleep` container on a network of the
 * benchmark's own runs throughout, so the rootless network namespace exists for every round, as it
 * does on a node with apps running.
 *
 * Every container, network and directory it creates is named `<prefix>-…` (app networks
 * `archy-<prefix>-…`); all of them, the agent and the service are removed at the end, on failure, and
 * on SIGINT/SIGTERM (a second one exits at once).
 *
 *   node bench/lifecycle.bench.ts [--rounds 10] [--warmup 1] [--apps 10,50,100] [--passes 10]
 *                                 [--prefix bench-…] [--json]
 *   --apps 0 skips the reconcile pass part.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { TEST_IMAGE, TEST_USER } from "../src/host/layout.ts";
import { LABEL_PREFIX, LABELS } from "../src/manifest/naming.ts";
import { parseManifest } from "../src/manifest/parse.ts";
import { type ContainerCreateBody, podmanPlan } from "../src/render/podman-spec.ts";
import { PodmanClient } from "../src/runtime/libpod/client.ts";
import type { ContainerSummary } from "../src/runtime/libpod/containers.ts";
import { MANAGED_FILTER } from "../src/runtime/observed.ts";
import { SYSTEM_PATH } from "../src/system/exec.ts";
import type { Call, PhaseMark } from "./lifecycle-agent.ts";
import {
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  round,
  type Stats,
  summarize,
  table,
} from "./support.ts";

const TARGET_INSTALL = 1.25;
const TARGET_STOP = 1.25;
const REPO_ROOT = resolve(import.meta.dirname, "..");
const isRoot = process.getuid?.() === 0;
const log = (message: string) => process.stderr.write(`lifecycle-bench: ${message}\n`);

// ---------------------------------------------------------------- options

const OPTIONS = {
  rounds: { type: "string" },
  warmup: { type: "string" },
  apps: { type: "string" },
  passes: { type: "string" },
  prefix: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;
// Not strict: bench/run.ts passes the same options to every benchmark; unknown ones are noted, not fatal.
const { values: args, tokens } = parseArgs({ options: OPTIONS, strict: false, tokens: true });
if (args.help) {
  process.stdout.write(
    "usage: node bench/lifecycle.bench.ts [--rounds N] [--warmup N] [--apps N,N,…] [--passes N]\n" +
      "                                    [--prefix NAME] [--json]\n",
  );
  process.exit(EXIT_PASS);
}
const unknown = tokens.flatMap((t) => (t.kind === "option" && !(t.name in OPTIONS) ? [t.rawName] : []));
if (unknown.length > 0) log(`ignoring options ${unknown.join(", ")}`);
for (const name of ["rounds", "warmup", "apps", "passes", "prefix"] as const)
  if (args[name] === true) {
    process.stderr.write(`--${name} needs a value\n`);
    process.exit(EXIT_ERROR);
  }
const text = (value: string | boolean | undefined) => (typeof value === "string" ? value : undefined);
const appSizes = (text(args.apps) ?? "10,50,100")
  .split(",")
  .map((s, i) => intOption(s.trim(), `apps (item ${i + 1})`, 0, 0))
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const options = {
  rounds: intOption(text(args.rounds), "rounds", 10),
  warmup: intOption(text(args.warmup), "warmup", 1, 0),
  apps: [...new Set(appSizes)],
  passes: intOption(text(args.passes), "passes", 10),
  prefix: text(args.prefix) ?? `bench-${randomBytes(3).toString("hex")}`,
  json: args.json === true,
};
// App ids are `<prefix>-a123` and must stay valid app ids (at most 40 characters per label, no
// `--`, not the platform's own `archy-` names: see manifest/naming.ts).
if (
  !/^[a-z][a-z0-9-]{0,30}$/.test(options.prefix) ||
  options.prefix.endsWith("-") ||
  options.prefix.includes("--") ||
  options.prefix.startsWith("archy-")
) {
  process.stderr.write(
    `--prefix must start with a letter, not with archy-, and be at most 31 lowercase letters, digits and single '-' (got '${options.prefix}')\n`,
  );
  process.exit(EXIT_ERROR);
}
if ((options.apps.at(-1) ?? 0) > 150) {
  process.stderr.write("--apps: at most 150 apps (each one is a running container of the test user)\n");
  process.exit(EXIT_ERROR);
}

// ---------------------------------------------------------------- interruption

let interrupted: NodeJS.Signals | undefined;
/** Processes in groups of their own (the service, the agent): killed at once on a forced exit. */
const groups = new Set<ChildProcess>();

class Interrupted extends Error {}
function checkpoint(): void {
  if (interrupted) throw new Interrupted(`interrupted by ${interrupted}`);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) {
      log(`${signal} again: exiting without finishing the clean-up (prefix ${options.prefix})`);
      killGroupsNow();
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = signal;
    log(`${signal}: stopping after the current step, then cleaning up (again to exit at once)`);
  });
}
process.on("exit", killGroupsNow);

function killGroupsNow(): void {
  for (const child of groups)
    if (child.pid && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, "SIGKILL");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {}
}

async function stopGroup(child: ChildProcess | undefined, graceMs = 5_000): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  signalGroup(child.pid, "SIGTERM");
  await Promise.race([exited, sleep(graceMs)]);
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child.pid, "SIGKILL");
    await Promise.race([exited, sleep(2_000)]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// ---------------------------------------------------------------- the test user

type TestUser = { uid: number; gid: number; env: Record<string, string> };

async function loadTestUser(): Promise<TestUser> {
  // Imported here so that a missing test user is an error the benchmark reports, not a crash.
  const rootless = await import("../test/support/rootless.ts");
  return { uid: rootless.testUser.uid, gid: rootless.testUser.gid, env: rootless.testUserEnv() };
}

function findPodman(): string {
  for (const dir of SYSTEM_PATH.split(":")) if (existsSync(join(dir, "podman"))) return join(dir, "podman");
  throw new Error("podman is not installed: run `bin/archy doctor --fix` as root");
}

/** argv as the test user: through runuser as root (with its environment), directly otherwise. */
function asTestUser(user: TestUser, argv: string[]): [string, string[]] {
  if (!isRoot) return [argv[0] as string, argv.slice(1)];
  const env = Object.entries(user.env).map(([k, v]) => `${k}=${v}`);
  return ["runuser", ["-u", TEST_USER, "--", "env", ...env, ...argv]];
}

type RunResult = { code: number; stdout: string; stderr: string; ms: number };

/**
 * A command as the test user, collected. `direct`: the binary is started with the test user's uid
 * (as the operator's shell would start it), not through runuser — what the bare methods time.
 */
function run(user: TestUser, argv: string[], direct = false): Promise<RunResult> {
  const [file, argList] = direct ? [argv[0] as string, argv.slice(1)] : asTestUser(user, argv);
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(file, argList, {
      cwd: "/tmp",
      env: user.env,
      stdio: ["ignore", "pipe", "pipe"],
      ...(direct && isRoot ? { uid: user.uid, gid: user.gid } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("error", (error) =>
      done({ code: 127, stdout, stderr: `${stderr}${error.message}`, ms: performance.now() - started }),
    );
    child.on("close", (code) => done({ code: code ?? 1, stdout, stderr, ms: performance.now() - started }));
  });
}

// ---------------------------------------------------------------- the service

let service: ChildProcess | undefined;

async function startService(user: TestUser, socket: string): Promise<PodmanClient> {
  const [file, argList] = asTestUser(user, ["podman", "system", "service", "--time=0", `unix://${socket}`]);
  let stderr = "";
  const child = spawn(file, argList, {
    cwd: "/tmp",
    env: user.env,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  service = child;
  groups.add(child);
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.on("error", (error) => {
    stderr += error.message;
  });
  const client = new PodmanClient(socket, { timeoutMs: 120_000 });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    checkpoint();
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`podman system service exited: ${stderr.trim()}`);
    if (existsSync(socket)) {
      try {
        await client.ping(1_000);
        return client;
      } catch {}
    }
    await sleep(100);
  }
  await client.close();
  throw new Error(`podman system service did not answer on ${socket} within 20 s: ${stderr.trim()}`);
}

// ---------------------------------------------------------------- the orchestrator (agent)

type Reply = { reply?: number; ok?: boolean; result?: unknown; error?: string; ready?: boolean };

class Agent {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  #next = 1;
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #stderr = "";

  constructor(child: ChildProcess) {
    this.child = child;
    let readyResolve: () => void = () => {};
    let readyReject: (error: Error) => void = () => {};
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-6000);
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      let message: Reply;
      try {
        message = JSON.parse(line) as Reply;
      } catch {
        this.#stderr += `\n(stdout) ${line}`;
        return;
      }
      if (message.ready) readyResolve();
      if (message.reply !== undefined) {
        this.#pending.get(message.reply)?.resolve(message);
        this.#pending.delete(message.reply);
      }
    });
    child.once("exit", (code, signal) => {
      const error = new Error(
        `the orchestrator agent exited (${signal ?? code})\n${this.#stderr.slice(-3000)}`,
      );
      readyReject(error);
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
    });
  }

  async call<T>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    const reply = new Promise<Reply>((res, rej) => this.#pending.set(id, { resolve: res, reject: rej }));
    this.child.stdin?.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    const answer = await reply;
    if (!answer.ok) throw new Error(`agent ${op} failed: ${answer.error}`);
    return answer.result as T;
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((done) => this.child.once("exit", done));
    this.child.stdin?.write(`${JSON.stringify({ id: 0, op: "exit" })}\n`);
    await Promise.race([exited, sleep(10_000)]);
    await stopGroup(this.child, 2_000);
  }
}

function startAgent(user: TestUser, root: string, dir: string, socket: string): Agent {
  const node = join(root, "node_modules", ".bin", "node");
  const argv = [
    node,
    join(root, "bench", "lifecycle-agent.ts"),
    "--state",
    join(dir, "state"),
    "--data",
    join(dir, "data"),
    "--socket",
    socket,
  ];
  const [file, argList] = asTestUser(user, argv);
  const child = spawn(file, argList, {
    cwd: root,
    env: user.env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  groups.add(child);
  return new Agent(child);
}

/**
 * A copy of what the agent needs that the test user can read (as root, the checkout may be closed
 * to it): hard links under /tmp, named after the prefix, removed at the end.
 */
async function stageAgent(): Promise<string> {
  if (!isRoot) return REPO_ROOT;
  const { stageTree } = await import("../test/support/stage.ts");
  return stageTree(REPO_ROOT, ["package.json", "src", "node_modules", "bench"], `${options.prefix}-stage-`)
    .dir;
}

// ---------------------------------------------------------------- the apps

type AppKind = "plain" | "health" | "idle";

function manifestText(id: string, kind: AppKind, port: number): string {
  const lines = [
    "manifest: 1",
    `id: ${id}`,
    "version: 1.0.0",
    "name: Lifecycle benchmark app",
    "description: One busybox container, written by bench/lifecycle.bench.ts.",
    "category: utilities",
    "license: MIT",
    "containers:",
    "  main:",
    `    image: ${TEST_IMAGE}`,
  ];
  if (kind === "idle") lines.push("    command: [sleep, '86400']", "    stop_timeout: 1s");
  else
    lines.push(
      "    command: [serve]",
      "    environment:",
      "      PORT: 8080",
      "    ports:",
      "      - container: 8080",
      `        host: ${port}`,
      "        bind: 127.0.0.1",
      "    stop_timeout: 10s",
      "    stop_signal: SIGTERM",
    );
  if (kind === "health")
    lines.push(
      "    health:",
      "      type: http",
      "      port: 8080",
      "      path: /",
      "      interval: 2s",
      "      timeout: 1s",
      "      retries: 3",
      "      start_period: 5s",
    );
  return `${lines.join("\n")}\n`;
}

/** Writes an app's manifest into `<dir>/manifests/<id>/` (readable by the test user). */
function writeApp(dir: string, id: string, kind: AppKind, port: number): string {
  const appDir = join(dir, "manifests", id);
  mkdirSync(appDir, { recursive: true, mode: 0o755 });
  chmodSync(appDir, 0o755);
  writeFileSync(join(appDir, "manifest.yml"), manifestText(id, kind, port), { mode: 0o644 });
  return appDir;
}

/** The create body the orchestrator sends for an app's one container (what the bare side mirrors). */
function renderedBody(id: string, kind: AppKind, port: number, dataRoot: string): ContainerCreateBody {
  const parsed = parseManifest(manifestText(id, kind, port), id);
  if (!parsed.ok)
    throw new Error(`bench manifest invalid: ${parsed.issues.map((i) => i.message).join("; ")}`);
  const body = podmanPlan(parsed.manifest, { dataRoot, dependencies: {} }).containers[0]?.body;
  if (!body) throw new Error("bench manifest has no container");
  return body;
}

/**
 * `podman run -d` arguments for the same container as a create body: image, command, environment,
 * published ports, capabilities, security options, stop signal and timeout, memory, health check and
 * labels (renamed, so that no orchestrator takes the bare container for one of its own), on `network`.
 */
function runArgs(body: ContainerCreateBody, name: string, network: string): string[] {
  const out = ["run", "-d", "--name", name];
  for (const [key, value] of Object.entries(body.labels))
    out.push("--label", `${key.replace(LABEL_PREFIX, "bench.archipelago")}=${value}`);
  out.push("--network", network);
  for (const p of body.portmappings ?? [])
    out.push("-p", `${p.host_ip}:${p.host_port}:${p.container_port}/${p.protocol}`);
  if (body.entrypoint) out.push("--entrypoint", JSON.stringify(body.entrypoint));
  if (body.work_dir) out.push("--workdir", body.work_dir);
  if (body.user) out.push("--user", body.user);
  for (const [key, value] of Object.entries(body.env)) out.push("--env", `${key}=${value}`);
  for (const cap of body.cap_drop) out.push("--cap-drop", cap);
  for (const cap of body.cap_add ?? []) out.push("--cap-add", cap);
  if (body.no_new_privileges) out.push("--security-opt", "no-new-privileges");
  if (body.read_only_filesystem) out.push("--read-only", "--read-only-tmpfs=false");
  for (const m of body.mounts ?? []) {
    if (m.type !== "tmpfs") throw new Error("bind mounts are not mirrored by the benchmark");
    out.push("--tmpfs", `${m.destination}:${m.options.join(",")}`);
  }
  if (body.volumes || body.devices || body.secrets || body.secret_env)
    throw new Error("volumes, devices and secrets are not mirrored by the benchmark");
  out.push("--stop-timeout", String(body.stop_timeout));
  if (body.stop_signal !== undefined) out.push("--stop-signal", String(body.stop_signal));
  if (body.resource_limits) out.push("--memory", String(body.resource_limits.memory.limit));
  if (body.healthconfig) {
    const h = body.healthconfig;
    out.push(
      "--health-cmd",
      JSON.stringify(h.Test),
      "--health-interval",
      `${h.Interval / 1e6}ms`,
      "--health-timeout",
      `${h.Timeout / 1e6}ms`,
      "--health-retries",
      String(h.Retries),
      "--health-start-period",
      `${h.StartPeriod / 1e6}ms`,
    );
  }
  out.push(body.image, ...(body.command ?? []));
  return out;
}

/** A TCP port nobody listens on, on loopback. */
async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

/** GET / on a loopback port until it answers 200 (the container serves): a sanity check, not timed. */
async function serves(port: number): Promise<boolean> {
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {}
    await sleep(100);
  }
  return false;
}

// ---------------------------------------------------------------- measurements

type Timed = {
  ms: number;
  acceptedMs?: number;
  healthyMs?: number;
  calls: Call[];
  store: StoreUse;
  phases: PhaseMark[];
  actions: Array<{ kind: string; at: number }>;
  events: number;
  eventKinds: Record<string, number>;
  /** The request as the benchmark saw it (through the pipe to the agent), for reference. */
  roundTripMs: number;
};

/** Store methods called, with the time spent in them (outermost calls). */
type StoreUse = Record<string, { calls: number; ms: number }>;

type InstallMethod = "orchestrator" | "bare" | "orchestratorHealth";
type StopMethod = "orchestrator" | "bare";

async function orchestratorInstall(agent: Agent, path: string, healthy: boolean): Promise<Timed> {
  const started = performance.now();
  const result = await agent.call<Omit<Timed, "roundTripMs">>("install", { path, healthy });
  return { ...result, roundTripMs: performance.now() - started };
}

async function orchestratorStop(agent: Agent, app: string): Promise<Timed> {
  const started = performance.now();
  const result = await agent.call<Omit<Timed, "roundTripMs">>("stop", { app });
  return { ...result, roundTripMs: performance.now() - started };
}

function bareTimed(ms: number): Timed {
  return { ms, calls: [], store: {}, phases: [], actions: [], events: 0, eventKinds: {}, roundTripMs: ms };
}

async function bareRun(
  user: TestUser,
  podmanPath: string,
  argv: string[],
  client: PodmanClient,
  name: string,
) {
  const result = await run(user, [podmanPath, ...argv], true);
  if (result.code !== 0)
    throw new Error(`podman ${argv.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  const inspect = await client.containers.find(name);
  if (!inspect?.State.Running) throw new Error(`podman run -d returned, but ${name} is not running`);
  return bareTimed(result.ms);
}

async function bareStop(user: TestUser, podmanPath: string, client: PodmanClient, name: string) {
  const result = await run(user, [podmanPath, "stop", name], true);
  if (result.code !== 0)
    throw new Error(`podman stop ${name} failed (${result.code}): ${result.stderr.trim()}`);
  const inspect = await client.containers.find(name);
  if (!inspect || inspect.State.Running)
    throw new Error(`podman stop returned, but ${name} is ${inspect ? "running" : "gone"}`);
  return bareTimed(result.ms);
}

/** Before every timed request: whatever the previous one set off has finished. */
async function quiet(agent: Agent): Promise<void> {
  await agent.call("settle");
  checkpoint();
}

/**
 * For reference, right before each timed request: what the reconciler's observation call costs at
 * that moment (every container the platform manages on this Podman, its own and anyone else's), and
 * what the same call filtered to one app's containers costs.
 */
async function probeLists(client: PodmanClient, appId: string, into: Rounds["lists"], measured: boolean) {
  const time = async (filter: string) => {
    const started = performance.now();
    await client.containers.list([filter]);
    return performance.now() - started;
  };
  const managed = await time(MANAGED_FILTER);
  const app = await time(`${LABELS.app}=${appId}`);
  if (measured) {
    into.managed.push(managed);
    into.app.push(app);
  }
}

type Rounds = {
  install: Record<InstallMethod, Timed[]>;
  stop: Record<StopMethod, Timed[]>;
  /** The list probes (see probeLists), ms. */
  lists: { managed: number[]; app: number[] };
};

async function lifecycleRounds(
  user: TestUser,
  podmanPath: string,
  client: PodmanClient,
  agent: Agent,
  dir: string,
): Promise<Rounds> {
  const out: Rounds = {
    install: { orchestrator: [], bare: [], orchestratorHealth: [] },
    stop: { orchestrator: [], bare: [] },
    lists: { managed: [], app: [] },
  };
  const total = options.warmup + options.rounds;
  const dataRoot = join(dir, "data");
  for (let r = 0; r < total; r++) {
    checkpoint();
    const tag = String(r).padStart(2, "0");
    const measured = r >= options.warmup;
    const plain = { id: `${options.prefix}-p${tag}`, port: await freePort() };
    const health = { id: `${options.prefix}-h${tag}`, port: await freePort() };
    const bare = {
      name: `${options.prefix}-bare${tag}`,
      network: `${options.prefix}-bnet${tag}`,
      port: await freePort(),
    };
    const plainPath = writeApp(dir, plain.id, "plain", plain.port);
    const healthPath = writeApp(dir, health.id, "health", health.port);
    const bareArgs = runArgs(renderedBody(plain.id, "plain", bare.port, dataRoot), bare.name, bare.network);
    // The bare container's network exists beforehand (an operator's `podman network create`); the
    // orchestrator creates its app's network within the install it is timed for.
    await client.networks.create({ name: bare.network, driver: "bridge", dns_enabled: true });

    const installs: Record<InstallMethod, () => Promise<Timed>> = {
      orchestrator: () => orchestratorInstall(agent, plainPath, false),
      orchestratorHealth: async () => {
        const timed = await orchestratorInstall(agent, healthPath, true);
        // Its probes must not run beside the next measurement.
        await agent.call("purge", { app: health.id });
        return timed;
      },
      bare: () => bareRun(user, podmanPath, bareArgs, client, bare.name),
    };
    const installOrder: InstallMethod[] = ["orchestrator", "bare", "orchestratorHealth"];
    for (let i = 0; i < installOrder.length; i++) {
      const method = installOrder[(r + i) % installOrder.length] as InstallMethod;
      await quiet(agent);
      await probeLists(client, plain.id, out.lists, measured);
      const timed = await installs[method]();
      if (measured) out.install[method].push(timed);
    }
    // Both containers serve their page on their loopback port: the same container, both ways.
    if (!(await serves(plain.port))) throw new Error(`${plain.id} does not serve on 127.0.0.1:${plain.port}`);
    if (!(await serves(bare.port))) throw new Error(`${bare.name} does not serve on 127.0.0.1:${bare.port}`);

    const stops: Record<StopMethod, () => Promise<Timed>> = {
      orchestrator: () => orchestratorStop(agent, plain.id),
      bare: () => bareStop(user, podmanPath, client, bare.name),
    };
    const stopOrder: StopMethod[] = ["orchestrator", "bare"];
    for (let i = 0; i < stopOrder.length; i++) {
      const method = stopOrder[(r + i) % stopOrder.length] as StopMethod;
      await quiet(agent);
      await probeLists(client, plain.id, out.lists, measured);
      const timed = await stops[method]();
      if (measured) out.stop[method].push(timed);
    }

    // Untimed: both apps gone again.
    await agent.call("purge", { app: plain.id });
    await client.containers.remove(bare.name, { force: true, timeoutSeconds: 0 });
    await client.networks.remove(bare.network);
    rmSync(plainPath, { recursive: true, force: true });
    rmSync(healthPath, { recursive: true, force: true });
    const ms = (t: Timed[]) => (t.at(-1)?.ms ?? Number.NaN).toFixed(0);
    log(
      `round ${r + 1}/${total}${measured ? "" : " (warm-up)"}: install ${measured ? `${ms(out.install.orchestrator)} vs ${ms(out.install.bare)} ms` : "done"}, stop ${measured ? `${ms(out.stop.orchestrator)} vs ${ms(out.stop.bare)} ms` : "done"}`,
    );
  }
  return out;
}

type PassResult = {
  apps: number;
  ms: number;
  enqueuedMs: number;
  calls: Call[];
  store: StoreUse;
  /** Store statements that wrote during the pass (nothing changed: none; see Store.writes). */
  writes: number;
  actions: Array<{ kind: string; at: number }>;
  events: number;
  eventKinds: Record<string, number>;
  changed: string[];
};

type SizeResult = {
  apps: number;
  installSeconds: number;
  passes: PassResult[];
};

async function reconcilePasses(agent: Agent, dir: string): Promise<SizeResult[]> {
  const out: SizeResult[] = [];
  let installed = 0;
  for (const size of options.apps) {
    checkpoint();
    const paths: string[] = [];
    for (let i = installed; i < size; i++)
      paths.push(writeApp(dir, `${options.prefix}-a${String(i).padStart(3, "0")}`, "idle", 0));
    log(`installing ${paths.length} more apps through the orchestrator (${size} in all)`);
    const installedMany = await agent.call<{ apps: number; ms: number }>("install-many", { paths });
    installed = size;
    log(`  ${size} apps running (${(installedMany.ms / 1000).toFixed(1)} s for ${paths.length})`);
    const passes: PassResult[] = [];
    const total = options.warmup + options.passes;
    for (let p = 0; p < total; p++) {
      checkpoint();
      const pass = await agent.call<PassResult>("pass");
      if (pass.apps !== size) throw new Error(`the pass saw ${pass.apps} apps, ${size} are installed`);
      if (pass.actions.length > 0 || pass.changed.length > 0)
        throw new Error(
          `a pass with nothing changed acted: ${JSON.stringify(pass.actions)}, changed ${pass.changed.join(", ")}`,
        );
      if (p >= options.warmup) passes.push(pass);
    }
    out.push({ apps: size, installSeconds: installedMany.ms / 1000, passes });
    const calls = passes.map((p) => p.calls.length);
    log(`  ${size} apps: ${Math.min(...calls)}–${Math.max(...calls)} Podman calls per pass`);
  }
  return out;
}

// ---------------------------------------------------------------- clean-up

async function ours(client: PodmanClient, prefix: string): Promise<string[]> {
  const { body } = await client.transport.request<ContainerSummary[] | null>({
    method: "GET",
    path: "/containers/json",
    query: { all: true, size: false, filters: JSON.stringify({ name: [`^/?${prefix}-`] }) },
    operation: "container.list",
  });
  return (body ?? []).flatMap((c) => c.Names).filter((n) => n.replace(/^\//, "").startsWith(`${prefix}-`));
}

async function cleanUp(user: TestUser, client: PodmanClient | undefined, prefix: string): Promise<void> {
  const mine = (name: string) => name.startsWith(`${prefix}-`) || name.startsWith(`archy-${prefix}-`);
  if (client) {
    try {
      const names = await ours(client, prefix);
      if (names.length > 0) log(`removing ${names.length} containers`);
      for (let i = 0; i < names.length; i += 8)
        await Promise.all(
          names
            .slice(i, i + 8)
            .map((name) => client.containers.remove(name, { force: true, timeoutSeconds: 0 })),
        );
    } catch (error) {
      log(`removal through the service failed (${(error as Error).message}); falling back to the CLI`);
    }
  }
  // Whatever is left (the service died, or a removal failed): the CLI, by name.
  const listed = await run(user, [
    "podman",
    "ps",
    "-a",
    "--filter",
    `name=^${prefix}-`,
    "--format",
    "{{.Names}}",
  ]);
  const left = listed.stdout.split("\n").filter((n) => n.startsWith(`${prefix}-`));
  if (left.length > 0) {
    log(`removing ${left.length} leftover containers with the CLI`);
    const removed = await run(user, ["podman", "rm", "-f", "-t", "0", ...left]);
    if (removed.code !== 0) log(`podman rm failed: ${removed.stderr.trim()}`);
  }
  if (listed.code !== 0) log(`could not check for leftover containers: ${listed.stderr.trim()}`);
  // Networks: the bare ones and the keeper's (`<prefix>-…`), the apps' (`archy-<prefix>-…`).
  const networks = await run(user, ["podman", "network", "ls", "--format", "{{.Name}}"]);
  const nets = networks.stdout.split("\n").filter(mine);
  if (nets.length > 0) {
    log(`removing ${nets.length} networks`);
    const removed = await run(user, ["podman", "network", "rm", "-f", ...nets]);
    if (removed.code !== 0) log(`podman network rm failed: ${removed.stderr.trim()}`);
  }
  if (networks.code !== 0) log(`could not check for leftover networks: ${networks.stderr.trim()}`);
  // The apps have no volumes or secrets; anything of the prefix would still be ours.
  for (const kind of ["volume", "secret"] as const) {
    const listedKind = await run(user, ["podman", kind, "ls", "--format", "{{.Name}}"]);
    const names = listedKind.stdout.split("\n").filter(mine);
    if (names.length > 0) {
      log(`removing ${names.length} ${kind}s`);
      await run(user, ["podman", kind, "rm", ...(kind === "volume" ? ["-f"] : []), ...names]);
    }
  }
}

// ---------------------------------------------------------------- results

type MethodResult = Stats & {
  label: string;
  /** Podman API calls per request (the median round), or null for the CLI. */
  calls: number | null;
};

type Sample = { ms: number; healthyMs?: number; events: number; calls: string[] };

type Breakdown = {
  /** The median round's time. */
  ms: number;
  /** From the request to the intent being recorded (manifest read and validated, SQLite write). */
  acceptedMs: number;
  /** Podman calls of the median round, in order: operation, start and duration (ms from the request). */
  calls: Call[];
  /** Time inside Podman calls (their union) and outside them, in the median round. */
  inPodmanMs: number;
  outsidePodmanMs: number;
  /** When the app reached each phase in the median round. */
  phases: PhaseMark[];
  /** Median over rounds of the time in each kind of call, and of the calls made. */
  byOperation: Record<string, { calls: number; ms: number }>;
  /** Podman events the orchestrator received during the request (median round). */
  events: number;
};

type Result = {
  benchmark: "lifecycle";
  date: string;
  machine: ReturnType<typeof machine> & { podman: string };
  params: typeof options;
  install: Record<InstallMethod | "orchestratorHealthToHealthy", MethodResult>;
  stop: Record<StopMethod, MethodResult>;
  roundTrip: { install: Stats; stop: Stats };
  /** Podman events the orchestrator received during its timed requests, by kind (all rounds). */
  eventKinds: Record<"install" | "installHealth" | "stop", Record<string, number>>;
  /** Right before each timed request (reference): the reconciler's list call, and one app's list. */
  lists: { managed: Stats; app: Stats };
  breakdown: { install: Breakdown; stop: Breakdown; installHealth: Breakdown };
  /** Every measured request of the orchestrator, in round order: its time and its Podman calls. */
  samples: Record<"install" | "installHealth" | "stop", Sample[]> & {
    bareInstall: number[];
    bareStop: number[];
  };
  reconcile: Array<{
    apps: number;
    /** Every measured pass: its time, calls, events received, time in Podman and in the store. */
    samples: Array<{ ms: number; calls: number; events: number; podmanMs: number; storeMs: number }>;
    passes: number;
    callsPerPass: { min: number; p50: number; max: number };
    listCallsPerPass: { min: number; p50: number; max: number };
    /** Store statements that wrote, per pass (the last-seen times are written once a minute). */
    writesPerPass: { min: number; p50: number; max: number };
    byOperation: Record<string, number>;
    /** Passes during which Podman events arrived (from any user of this Podman). */
    passesWithEvents: number;
    /** Podman events received during all passes, by type, action and whose app. */
    eventKinds: Record<string, number>;
    ms: Stats;
    msPerApp: number;
    /** Median per pass: time in the Podman list call, and in the store (SQLite), by method. */
    podmanMs: number;
    storeMs: number;
    store: StoreUse;
    installSeconds: number;
  }>;
  /** One committed write on the store's disk, with the store's synchronous = FULL and with NORMAL. */
  sqlite: { msPerWriteFull: number; msPerWriteNormal: number } | undefined;
  ratio: {
    install: number;
    stop: number;
    installHealthToRunning: number;
    installHealthToHealthy: number;
    targetInstall: number;
    targetStop: number;
  };
  /**
   * Not a measurement: the orchestrator's requests as measured, with the time of each of their
   * `container.list` calls (every managed container) replaced by what a list of one app's containers
   * cost at the same moments (the probe's p50). An estimate of observing one app instead of all.
   */
  appListEstimate: Record<
    "install" | "stop",
    { listCalls: number; listMs: number; p50: number; ratio: number }
  >;
  verdicts: {
    install: boolean;
    stop: boolean;
    reconcileCallsConstant: boolean | null;
    reconcileWritesNone: boolean | null;
  };
  pass: boolean;
};

function stats(samples: number[]): Stats {
  const s = summarize(samples);
  return {
    n: s.n,
    min: round(s.min),
    p50: round(s.p50),
    p90: round(s.p90),
    max: round(s.max),
    mean: round(s.mean),
  };
}

function method(label: string, timed: Timed[], value: (t: Timed) => number, api: boolean): MethodResult {
  const counts = timed.map((t) => callsUntil(t, value(t)).length).sort((a, b) => a - b);
  return {
    label,
    ...stats(timed.map(value)),
    calls: api ? (counts[Math.floor((counts.length - 1) / 2)] ?? 0) : null,
  };
}

/** The union of the calls' intervals: time the request spent waiting for Podman. */
function inPodman(calls: Call[]): number {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const c of sorted) {
    const from = Math.max(c.start, end);
    const to = c.start + c.ms;
    if (to > from) total += to - from;
    end = Math.max(end, to);
  }
  return total;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** The calls a request made before it ended (`end`), cut at its end, in the order they started. */
function callsUntil(t: Timed, end: number): Call[] {
  return t.calls
    .filter((c) => c.start < end)
    .map((c) => ({ ...c, ms: Math.min(c.ms, end - c.start) }))
    .sort((a, b) => a.start - b.start);
}

/** Where the time of the median request went; `end`: when a request counts as done. */
function breakdown(timed: Timed[], end: (t: Timed) => number = (t) => t.ms): Breakdown {
  const byMs = [...timed].sort((a, b) => end(a) - end(b));
  const mid = byMs[Math.floor((byMs.length - 1) / 2)] as Timed;
  const calls = callsUntil(mid, end(mid));
  const ops = new Set(timed.flatMap((t) => t.calls.map((c) => c.op)));
  const byOperation: Breakdown["byOperation"] = {};
  for (const op of [...ops].sort()) {
    const mine = timed.map((t) => callsUntil(t, end(t)).filter((c) => c.op === op));
    byOperation[op] = {
      calls: median(mine.map((c) => c.length)),
      ms: round(median(mine.map((c) => c.reduce((sum, x) => sum + x.ms, 0)))),
    };
  }
  const podman = inPodman(calls);
  return {
    ms: round(end(mid)),
    acceptedMs: round(mid.acceptedMs ?? 0),
    calls: calls.map((c) => ({ ...c, start: round(c.start), ms: round(c.ms) })),
    inPodmanMs: round(podman),
    outsidePodmanMs: round(end(mid) - podman),
    phases: mid.phases.map((p) => ({ phase: p.phase, at: round(p.at) })),
    byOperation,
    events: mid.events,
  };
}

function appListEstimate(
  timed: Timed[],
  appLists: number[],
  bareP50: number,
): Result["appListEstimate"]["install"] {
  const appList = summarize(appLists).p50;
  const lists = timed.map((t) => callsUntil(t, t.ms).filter((c) => c.op === "container.list"));
  const estimates = timed.map((t, i) => {
    const mine = lists[i] ?? [];
    return t.ms - mine.reduce((sum, c) => sum + c.ms, 0) + mine.length * appList;
  });
  const p50 = median(estimates);
  return {
    listCalls: median(lists.map((l) => l.length)),
    listMs: round(median(lists.map((l) => l.reduce((sum, c) => sum + c.ms, 0)))),
    p50: round(p50),
    ratio: round(p50 / bareP50, 3),
  };
}

function sumKinds(all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kinds of all) for (const [key, n] of Object.entries(kinds)) out[key] = (out[key] ?? 0) + n;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** One request for the JSON output: its calls as `operation@start+duration`. */
function sample(t: Timed, end: number): Sample {
  return {
    ms: round(t.ms),
    ...(t.healthyMs !== undefined ? { healthyMs: round(t.healthyMs) } : {}),
    events: t.events,
    calls: callsUntil(t, end).map((c) => `${c.op}@${c.start.toFixed(1)}+${c.ms.toFixed(1)}`),
  };
}

function summarizeResult(
  rounds: Rounds,
  sizes: SizeResult[],
  sqlite: Result["sqlite"],
  podmanVersion: string,
): Result {
  const install = {
    orchestrator: method("orchestrator: install → running", rounds.install.orchestrator, (t) => t.ms, true),
    bare: method("podman run -d", rounds.install.bare, (t) => t.ms, false),
    orchestratorHealth: method(
      "orchestrator, health-checked app: install → running",
      rounds.install.orchestratorHealth,
      (t) => t.ms,
      true,
    ),
    orchestratorHealthToHealthy: method(
      "orchestrator, health-checked app: install → healthy",
      rounds.install.orchestratorHealth,
      (t) => t.healthyMs ?? Number.NaN,
      true,
    ),
  };
  const stop = {
    orchestrator: method("orchestrator: stop → stopped", rounds.stop.orchestrator, (t) => t.ms, true),
    bare: method("podman stop", rounds.stop.bare, (t) => t.ms, false),
  };
  const reconcile = sizes.map((size) => {
    const calls = size.passes.map((p) => p.calls.length);
    const lists = size.passes.map((p) => p.calls.filter((c) => c.op === "container.list").length);
    const ops = new Set(size.passes.flatMap((p) => p.calls.map((c) => c.op)));
    const ms = stats(size.passes.map((p) => p.ms));
    return {
      apps: size.apps,
      passes: size.passes.length,
      callsPerPass: { min: Math.min(...calls), p50: median(calls), max: Math.max(...calls) },
      listCallsPerPass: { min: Math.min(...lists), p50: median(lists), max: Math.max(...lists) },
      writesPerPass: {
        min: Math.min(...size.passes.map((p) => p.writes)),
        p50: median(size.passes.map((p) => p.writes)),
        max: Math.max(...size.passes.map((p) => p.writes)),
      },
      byOperation: Object.fromEntries(
        [...ops]
          .sort()
          .map((op) => [op, median(size.passes.map((p) => p.calls.filter((c) => c.op === op).length))]),
      ),
      passesWithEvents: size.passes.filter((p) => p.events > 0).length,
      eventKinds: sumKinds(size.passes.map((p) => p.eventKinds)),
      ms,
      msPerApp: round(ms.p50 / size.apps, 3),
      podmanMs: round(median(size.passes.map((p) => inPodman(p.calls)))),
      storeMs: round(
        median(size.passes.map((p) => Object.values(p.store).reduce((sum, x) => sum + x.ms, 0))),
      ),
      store: Object.fromEntries(
        [...new Set(size.passes.flatMap((p) => Object.keys(p.store)))].sort().map((name) => [
          name,
          {
            calls: median(size.passes.map((p) => p.store[name]?.calls ?? 0)),
            ms: round(median(size.passes.map((p) => p.store[name]?.ms ?? 0))),
          },
        ]),
      ),
      installSeconds: round(size.installSeconds, 1),
      samples: size.passes.map((p) => ({
        ms: round(p.ms),
        calls: p.calls.length,
        events: p.events,
        podmanMs: round(inPodman(p.calls)),
        storeMs: round(Object.values(p.store).reduce((sum, x) => sum + x.ms, 0)),
      })),
    };
  });
  const ratioInstall = install.orchestrator.p50 / install.bare.p50;
  const ratioStop = stop.orchestrator.p50 / stop.bare.p50;
  // Calls per pass do not grow: the typical pass at the largest size makes no more calls than at the smallest.
  const constant =
    reconcile.length === 0
      ? null
      : (reconcile.at(-1)?.callsPerPass.p50 ?? 0) <= (reconcile[0]?.callsPerPass.p50 ?? 0) &&
        reconcile.every((r) => r.callsPerPass.min <= (reconcile[0]?.callsPerPass.min ?? 0));
  const verdicts = {
    install: ratioInstall <= TARGET_INSTALL,
    stop: ratioStop <= TARGET_STOP,
    reconcileCallsConstant: constant,
    // Nothing changed, nothing written: passes write nothing, but for one a minute that writes the
    // apps' last-seen times (a statement per distinct time, one when the pass shared its list).
    reconcileWritesNone:
      reconcile.length === 0
        ? null
        : reconcile.every((r) => r.writesPerPass.min === 0 && r.writesPerPass.max <= 1),
  };
  return {
    benchmark: "lifecycle",
    date: new Date().toISOString(),
    machine: { ...machine(), podman: podmanVersion },
    params: options,
    install,
    stop,
    roundTrip: {
      install: stats(rounds.install.orchestrator.map((t) => t.roundTripMs)),
      stop: stats(rounds.stop.orchestrator.map((t) => t.roundTripMs)),
    },
    lists: { managed: stats(rounds.lists.managed), app: stats(rounds.lists.app) },
    eventKinds: {
      install: sumKinds(rounds.install.orchestrator.map((t) => t.eventKinds)),
      installHealth: sumKinds(rounds.install.orchestratorHealth.map((t) => t.eventKinds)),
      stop: sumKinds(rounds.stop.orchestrator.map((t) => t.eventKinds)),
    },
    breakdown: {
      install: breakdown(rounds.install.orchestrator),
      stop: breakdown(rounds.stop.orchestrator),
      installHealth: breakdown(rounds.install.orchestratorHealth, (t) => t.healthyMs ?? t.ms),
    },
    samples: {
      install: rounds.install.orchestrator.map((t) => sample(t, t.ms)),
      installHealth: rounds.install.orchestratorHealth.map((t) => sample(t, t.healthyMs ?? t.ms)),
      stop: rounds.stop.orchestrator.map((t) => sample(t, t.ms)),
      bareInstall: rounds.install.bare.map((t) => round(t.ms)),
      bareStop: rounds.stop.bare.map((t) => round(t.ms)),
    },
    reconcile,
    sqlite: sqlite && {
      msPerWriteFull: round(sqlite.msPerWriteFull, 3),
      msPerWriteNormal: round(sqlite.msPerWriteNormal, 3),
    },
    ratio: {
      install: round(ratioInstall, 3),
      stop: round(ratioStop, 3),
      installHealthToRunning: round(install.orchestratorHealth.p50 / install.bare.p50, 3),
      installHealthToHealthy: round(install.orchestratorHealthToHealthy.p50 / install.bare.p50, 3),
      targetInstall: TARGET_INSTALL,
      targetStop: TARGET_STOP,
    },
    appListEstimate: {
      install: appListEstimate(rounds.install.orchestrator, rounds.lists.app, install.bare.p50),
      stop: appListEstimate(rounds.stop.orchestrator, rounds.lists.app, stop.bare.p50),
    },
    verdicts,
    pass:
      verdicts.install &&
      verdicts.stop &&
      verdicts.reconcileCallsConstant !== false &&
      verdicts.reconcileWritesNone !== false,
  };
}

function report(result: Result): string {
  const ms = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(1));
  const row = (m: MethodResult) => [
    m.label,
    ms(m.p50),
    ms(m.p90),
    ms(m.max),
    m.calls === null ? "-" : String(m.calls),
  ];
  const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
  const p = result.params;
  const m = result.machine;
  const lines = [
    `lifecycle benchmark, ${result.date}`,
    `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, podman ${m.podman}, node ${m.node}, load ${m.loadAverage}`,
    `${p.rounds} rounds after ${p.warmup} warm-up, methods interleaved (order rotating); milliseconds`,
    "",
    table(
      ["install → running", "p50", "p90", "max", "calls"],
      [
        row(result.install.orchestrator),
        row(result.install.bare),
        row(result.install.orchestratorHealth),
        row(result.install.orchestratorHealthToHealthy),
      ],
    ),
    "",
    table(
      ["stop → stopped", "p50", "p90", "max", "calls"],
      [row(result.stop.orchestrator), row(result.stop.bare)],
    ),
    "",
    `install orchestrator/bare (p50): ${result.ratio.install.toFixed(2)}x, target <= ${TARGET_INSTALL}x: ${verdict(result.verdicts.install)}`,
    `stop    orchestrator/bare (p50): ${result.ratio.stop.toFixed(2)}x, target <= ${TARGET_STOP}x: ${verdict(result.verdicts.stop)}`,
    `health-checked install/bare (p50): ${result.ratio.installHealthToRunning.toFixed(2)}x to running, ${result.ratio.installHealthToHealthy.toFixed(2)}x to healthy (information, no target)`,
    ...(["install", "stop"] as const).map((what) => {
      const e = result.appListEstimate[what];
      return `${what}: ${e.listCalls} list calls of every managed container took ${ms(e.listMs)} (median); at the cost of one app's list instead: p50 ~${ms(e.p50)}, ${e.ratio.toFixed(2)}x (estimate, not measured)`;
    }),
    `orchestrator requests seen through the pipe (p50): install ${ms(result.roundTrip.install.p50)}, stop ${ms(result.roundTrip.stop.p50)}`,
    "",
    table(
      ["Podman list call right before each request (reference)", "p50", "p90", "max"],
      [
        ["every managed container (the reconciler's observation)", result.lists.managed],
        ["one app's containers (label io.archipelago.app)", result.lists.app],
      ].map(([label, s]) => [
        label as string,
        ms((s as Stats).p50),
        ms((s as Stats).p90),
        ms((s as Stats).max),
      ]),
    ),
  ];
  for (const [what, b] of [
    ["install", result.breakdown.install],
    ["stop", result.breakdown.stop],
  ] as const) {
    lines.push(
      "",
      `where the orchestrator's ${what} time goes (median round): intent recorded at ${ms(b.acceptedMs)}; ${ms(b.inPodmanMs)} in Podman calls, ${ms(b.outsidePodmanMs)} outside them; ${b.events} Podman events`,
      `  calls: ${b.calls.map((c) => `${c.op} @${c.start.toFixed(0)}+${c.ms.toFixed(0)}`).join(", ")}`,
      `  phases: ${b.phases.map((ph) => `${ph.phase} @${ph.at.toFixed(0)}`).join(", ")}`,
    );
  }
  if (result.reconcile.length > 0) {
    lines.push(
      "",
      table(
        [
          "reconcile pass, nothing changed",
          "calls p50",
          "max",
          "list calls",
          "writes p50",
          "max",
          "ms p50",
          "p90",
          "max",
          "ms/app",
          "w/ events",
        ],
        result.reconcile.map((r) => [
          `${r.apps} apps (${r.passes} passes)`,
          String(r.callsPerPass.p50),
          String(r.callsPerPass.max),
          String(r.listCallsPerPass.p50),
          String(r.writesPerPass.p50),
          String(r.writesPerPass.max),
          ms(r.ms.p50),
          ms(r.ms.p90),
          ms(r.ms.max),
          r.msPerApp.toFixed(2),
          String(r.passesWithEvents),
        ]),
      ),
      "",
      `Podman calls per pass constant from ${result.reconcile[0]?.apps} to ${result.reconcile.at(-1)?.apps} apps: ${verdict(result.verdicts.reconcileCallsConstant === true)}`,
      `store writes per pass none (one statement a minute at most) at every size: ${verdict(result.verdicts.reconcileWritesNone === true)}`,
      "",
      "where a pass's time goes (medians): time with a Podman call in flight; time in the store (SQLite: calls × and ms by method);",
      "the rest is planning and rendering (the workers run 4 at a time, so store time may overlap a call in flight)",
    );
    for (const r of result.reconcile) {
      const top = Object.entries(r.store)
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 5)
        .map(([name, use]) => `${name} ${use.calls}× ${ms(use.ms)}`)
        .join(", ");
      lines.push(
        `  ${r.apps} apps: ${ms(r.ms.p50)}: Podman ${ms(r.podmanMs)}, store ${ms(r.storeMs)} (${top}), rest ${ms(Math.max(0, r.ms.p50 - r.podmanMs - r.storeMs))}`,
      );
    }
    const kinds = Object.entries(sumKinds(result.reconcile.map((r) => r.eventKinds)));
    if (kinds.length > 0)
      lines.push(
        `Podman events during the passes (each one drops the shared observation): ${kinds
          .slice(0, 6)
          .map(([kind, n]) => `${n} ${kind}`)
          .join(", ")}`,
      );
  }
  if (result.sqlite)
    lines.push(
      `one committed store write on this disk: ${result.sqlite.msPerWriteFull.toFixed(2)} ms with synchronous = FULL (the store's), ${result.sqlite.msPerWriteNormal.toFixed(2)} ms with NORMAL`,
    );
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<Result> {
  const user = await loadTestUser();
  const podmanPath = findPodman();
  const image = await run(user, ["podman", "image", "exists", TEST_IMAGE]);
  if (image.code !== 0)
    throw new Error(`the test image ${TEST_IMAGE} is missing: run \`bin/archy doctor --fix\` as root`);

  const dir = mkdtempSync(`/tmp/${options.prefix}-`);
  let stage: string | undefined;
  let client: PodmanClient | undefined;
  let agent: Agent | undefined;
  try {
    for (const sub of ["state", "data", "manifests"]) mkdirSync(join(dir, sub), { mode: 0o755 });
    if (isRoot) for (const sub of ["", "state", "data"]) chownSync(join(dir, sub), user.uid, user.gid);
    chmodSync(dir, 0o711);
    const socket = join(dir, "podman.sock");
    log(`starting podman system service on ${socket}`);
    client = await startService(user, socket);
    const version = (await client.info()).version;

    // The rootless network namespace stays up while any container has a network: one that runs
    // throughout, so that no round pays for setting it up (a node with apps running never does).
    const keepNet = `${options.prefix}-keep`;
    await client.networks.create({ name: keepNet, driver: "bridge", dns_enabled: true });
    await client.containers.create({
      name: `${options.prefix}-keeper`,
      image: TEST_IMAGE,
      command: ["sleep", "86400"],
      netns: { nsmode: "bridge" },
      Networks: { [keepNet]: {} },
      stop_timeout: 1,
    });
    await client.containers.start(`${options.prefix}-keeper`);
    checkpoint();

    stage = await stageAgent();
    log(`starting the orchestrator as ${isRoot ? TEST_USER : "this user"}, prefix ${options.prefix}`);
    agent = startAgent(user, stage, dir, socket);
    await agent.ready;
    checkpoint();

    log(`measuring ${options.rounds} rounds after ${options.warmup} warm-up`);
    const rounds = await lifecycleRounds(user, podmanPath, client, agent, dir);
    const sizes = options.apps.length > 0 ? await reconcilePasses(agent, dir) : [];
    const sqlite = await agent.call<NonNullable<Result["sqlite"]>>("sqlite-probe", { writes: 200 });
    return summarizeResult(rounds, sizes, sqlite, version);
  } finally {
    log("cleaning up");
    await agent?.exit().catch((error) => log(`agent exit failed: ${error}`));
    await cleanUp(user, client, options.prefix).catch((error) => log(`clean-up failed: ${error}`));
    await client?.close();
    await stopGroup(service);
    if (stage && stage !== REPO_ROOT) rmSync(stage, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    log("clean");
  }
}

main().then(
  (result) => {
    // Printed after the clean-up, so the verdict is the last thing on the screen.
    process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${report(result)}\n`);
    process.exit(interrupted ? EXIT_INTERRUPTED : result.pass ? EXIT_PASS : EXIT_MISSED);
  },
  (error) => {
    if (error instanceof Interrupted || interrupted) {
      log(error instanceof Interrupted ? error.message : `interrupted by ${interrupted}`);
      process.exit(EXIT_INTERRUPTED);
    }
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
