/**
 * The observation benchmark: how long one `observe(client)` takes, and how many Podman calls it
 * makes, with N containers managed by the platform (default 200) and unmanaged noise beside them;
 * side by side, interleaved in the same run, with what an operator would type —
 * `podman ps -a --filter label=io.archipelago.owner=archipelago --format json`, process start
 * included — and with the one libpod list call alone. Target: observe p50 ≤ 1.5 × bare p50.
 *
 * As root it drives the rootless Podman of the test user (archy-test): a dedicated
 * `podman system service --time=0` on a temporary socket, started in a process group of its own so
 * that Ctrl-C reaches the benchmark (which cleans up) and not the service. Every container it
 * creates is named `<prefix>-…`; all of them, and the service, are removed at the end, on failure,
 * and on SIGINT/SIGTERM.
 *
 *   node bench/observe.bench.ts [--containers 200] [--noise 50] [--rounds 20] [--warmup 3]
 *                               [--concurrency 6] [--prefix archy-bench-…] [--json]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TEST_IMAGE, TEST_USER } from "../src/host/layout.ts";
import { LABELS, OWNER } from "../src/manifest/naming.ts";
import { PodmanClient } from "../src/runtime/libpod/client.ts";
import type { ContainerSummary } from "../src/runtime/libpod/containers.ts";
import { observe } from "../src/runtime/observe.ts";
import { MANAGED_FILTER } from "../src/runtime/observed.ts";
import { SYSTEM_PATH } from "../src/system/exec.ts";
import {
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  pool,
  round,
  type Stats,
  summarize,
  table,
} from "./support.ts";

const TARGET_RATIO = 1.5;
const BARE_ARGS = ["ps", "-a", "--filter", `label=${MANAGED_FILTER}`, "--format", "json"];
const BARE_COMMAND = `podman ${BARE_ARGS.join(" ")}`;
const isRoot = process.getuid?.() === 0;

type Kind = "running" | "exited" | "created";
type Planned = { name: string; kind: Kind; managed: boolean; spec: Record<string, unknown> };
type Method = "observe" | "bare" | "list";

const METHODS: Record<Method, string> = {
  observe: "observe(client)",
  bare: BARE_COMMAND,
  list: "libpod list call alone (reference)",
};

// ---------------------------------------------------------------- options

const OPTIONS = {
  containers: { type: "string" },
  noise: { type: "string" },
  rounds: { type: "string" },
  warmup: { type: "string" },
  concurrency: { type: "string" },
  prefix: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;
// Not strict: bench/run.ts passes the same options to every benchmark; unknown ones are noted, not fatal.
const { values: args, tokens } = parseArgs({ options: OPTIONS, strict: false, tokens: true });
if (args.help) {
  process.stdout.write(
    "usage: node bench/observe.bench.ts [--containers N] [--noise N] [--rounds N] [--warmup N]\n" +
      "                                  [--concurrency N] [--prefix NAME] [--json]\n",
  );
  process.exit(EXIT_PASS);
}
const unknown = tokens.flatMap((t) => (t.kind === "option" && !(t.name in OPTIONS) ? [t.rawName] : []));
if (unknown.length > 0) process.stderr.write(`observe-bench: ignoring options ${unknown.join(", ")}\n`);
for (const name of ["containers", "noise", "rounds", "warmup", "concurrency", "prefix"] as const)
  if (args[name] === true) {
    process.stderr.write(`--${name} needs a value\n`);
    process.exit(EXIT_ERROR);
  }
const text = (value: string | boolean | undefined) => (typeof value === "string" ? value : undefined);
const options = {
  containers: intOption(text(args.containers), "containers", 200),
  noise: 0,
  rounds: intOption(text(args.rounds), "rounds", 20),
  warmup: intOption(text(args.warmup), "warmup", 3, 0),
  concurrency: intOption(text(args.concurrency), "concurrency", 6),
  prefix: text(args.prefix) ?? `archy-bench-${randomBytes(3).toString("hex")}`,
  json: args.json === true,
};
options.noise = intOption(text(args.noise), "noise", Math.round(options.containers / 4), 0);
if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(options.prefix)) {
  process.stderr.write(`--prefix must be lowercase letters, digits and '-' (got '${options.prefix}')\n`);
  process.exit(EXIT_ERROR);
}

const log = (message: string) => process.stderr.write(`observe-bench: ${message}\n`);

// ---------------------------------------------------------------- interruption

let interrupted: NodeJS.Signals | undefined;
let service: ChildProcess | undefined;

class Interrupted extends Error {}
function checkpoint(): void {
  if (interrupted) throw new Interrupted(`interrupted by ${interrupted}`);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interrupted) {
      log(`${signal} again: exiting without finishing the clean-up (prefix ${options.prefix})`);
      killServiceNow();
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = signal;
    log(`${signal}: stopping after the current step, then cleaning up (again to exit at once)`);
  });
}
process.on("exit", killServiceNow);

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

/** A command as the test user, collected; as root via runuser (used for setup and checks only). */
function run(user: TestUser, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [file, argList] = asTestUser(user, argv);
  return new Promise((resolve) => {
    const child = spawn(file, argList, { cwd: "/tmp", env: user.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("error", (error) => resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

// ---------------------------------------------------------------- the service

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
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.on("error", (error) => {
    stderr += error.message;
  });
  const client = new PodmanClient(socket);
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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await client.close();
  throw new Error(`podman system service did not answer on ${socket} within 20 s: ${stderr.trim()}`);
}

async function stopService(): Promise<void> {
  const child = service;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  signalGroup(child.pid, "SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child.pid, "SIGKILL");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
}

function killServiceNow(): void {
  const child = service;
  if (child?.pid && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, "SIGKILL");
}

/** The service runs in a process group of its own (detached): runuser and podman both get the signal. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {}
}

// ---------------------------------------------------------------- the containers

/** A deterministic shuffle, so the states are spread over the apps but every run is the same. */
function shuffled<T>(items: T[]): T[] {
  let seed = 0x2545f491;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function kinds(count: number, running: number, exited: number): Kind[] {
  const list: Kind[] = [];
  for (let i = 0; i < count; i++)
    list.push(i < running ? "running" : i < running + exited ? "exited" : "created");
  return shuffled(list);
}

function command(kind: Kind, index: number): string[] {
  if (kind === "exited") return ["sh", "-c", `exit ${index % 3 === 0 ? 1 : 0}`];
  if (kind === "running" && index % 5 === 0) return ["serve"];
  return ["sleep", "86400"];
}

/** Apps of four containers each, named and labelled as the platform names and labels them. */
function plan(prefix: string, managed: number, noise: number): Planned[] {
  const keys = ["web", "db", "cache", "worker"];
  const out: Planned[] = [];
  const managedKinds = kinds(managed, Math.round(managed * 0.75), Math.round(managed * 0.15));
  managedKinds.forEach((kind, i) => {
    const appId = `${prefix}-app${String(Math.floor(i / keys.length)).padStart(3, "0")}`;
    const key = keys[i % keys.length] as string;
    const name = `${appId}-${key}`;
    const labels = {
      [LABELS.owner]: OWNER,
      [LABELS.app]: appId,
      [LABELS.container]: key,
      [LABELS.version]: "1.0.0",
      [LABELS.specHash]: createHash("sha256").update(`${name}:${kind}`).digest("hex"),
    };
    out.push({ name, kind, managed: true, spec: spec(name, command(kind, i), labels) });
  });
  kinds(noise, Math.round(noise * 0.2), Math.round(noise * 0.4)).forEach((kind, i) => {
    const name = `${prefix}-noise${String(i).padStart(3, "0")}`;
    // Unmanaged: no platform labels, or the owner label with another owner (the filter must skip it).
    const labels: Record<string, string> =
      i % 2 === 0 ? { "com.example.role": "noise" } : { [LABELS.owner]: "someone-else" };
    out.push({ name, kind, managed: false, spec: spec(name, command(kind, i), labels) });
  });
  return out;
}

function spec(name: string, argv: string[], labels: Record<string, string>): Record<string, unknown> {
  // No network: the benchmark is about listing, and rootless networking per container is slow to set up.
  return { name, image: TEST_IMAGE, command: argv, labels, netns: { nsmode: "none" }, stop_timeout: 1 };
}

/** One line of /proc/key-users: the kernel keys a user holds, against the per-user quota. */
type KeyQuota = { keys: number; maxKeys: number; bytes: number; maxBytes: number };

function keyQuota(uid: number): KeyQuota | undefined {
  try {
    const readMax = (name: string) => Number(readFileSync(`/proc/sys/kernel/keys/${name}`, "utf8"));
    const line = readFileSync("/proc/key-users", "utf8")
      .split("\n")
      .find((l) => l.trim().startsWith(`${uid}:`));
    // "  1001:    29 29/29 29/200 512/20000": usage, keys/instantiated, quota keys, quota bytes.
    const quota = line?.trim().split(/\s+/);
    const [keys, maxKeys] = (quota?.[3] ?? `0/${readMax("maxkeys")}`).split("/").map(Number);
    const [bytes, maxBytes] = (quota?.[4] ?? `0/${readMax("maxbytes")}`).split("/").map(Number);
    return { keys: keys ?? 0, maxKeys: maxKeys ?? 0, bytes: bytes ?? 0, maxBytes: maxBytes ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * The OCI runtime gives every started container a session keyring, which counts against the
 * user's kernel key quota (kernel.keys.maxkeys, 200 by default for a non-root user): with other
 * containers of the test user running, 150 more may not fit.
 */
const KEY_REMEDY =
  "each running container takes one (its session keyring). Stop other containers of the test user, " +
  "run with fewer --containers, or raise the quota: sysctl -w kernel.keys.maxkeys=2000 kernel.keys.maxbytes=100000";

function describeKeys(quota: KeyQuota): string {
  return `${quota.keys}/${quota.maxKeys} kernel keys, ${quota.bytes}/${quota.maxBytes} bytes`;
}

async function createAll(client: PodmanClient, planned: Planned[], concurrency: number, uid: number) {
  const running = planned.filter((c) => c.kind === "running").length;
  const before = keyQuota(uid);
  if (before && before.keys + running >= before.maxKeys)
    log(
      `warning: the test user holds ${describeKeys(before)}; ${running} containers are to run: ${KEY_REMEDY}`,
    );
  let done = 0;
  let lastReport = Date.now();
  try {
    await pool(
      planned,
      concurrency,
      async (container) => {
        await client.containers.create(container.spec);
        if (container.kind !== "created") await client.containers.start(container.name);
        if (container.kind === "exited") await client.containers.wait(container.name, "exited", 30_000);
        done++;
        if (Date.now() - lastReport > 5_000) {
          lastReport = Date.now();
          log(`  ${done}/${planned.length}`);
        }
      },
      () => interrupted !== undefined,
    );
  } catch (error) {
    if (/keyring|quota exceeded/.test((error as Error).message)) {
      const quota = keyQuota(uid);
      const held = quota ? ` (it holds ${describeKeys(quota)})` : "";
      throw new Error(
        `${(error as Error).message}\nThe test user ran out of kernel keys${held}: ${KEY_REMEDY}`,
      );
    }
    throw error;
  }
  checkpoint();
}

/** Every container whose name starts with the prefix, whoever created it in this run. */
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
  if (client) {
    try {
      const names = await ours(client, prefix);
      if (names.length > 0) log(`removing ${names.length} containers`);
      await pool(names, 8, (name) => client.containers.remove(name, { force: true, timeoutSeconds: 0 }));
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
  if (listed.code !== 0) log(`could not check for leftovers: ${listed.stderr.trim()}`);
}

// ---------------------------------------------------------------- the measurements

type Sample = { ms: number; calls: number; ours: number };

/** The operator's command: the podman binary started as the test user (no runuser in between). */
function bare(user: TestUser, podmanPath: string, prefix: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(podmanPath, BARE_ARGS, {
      cwd: "/tmp",
      env: user.env,
      stdio: ["ignore", "pipe", "pipe"],
      ...(isRoot ? { uid: user.uid, gid: user.gid } : {}),
    });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`${BARE_COMMAND} failed (${code}): ${stderr.trim()}`));
      // Parsed after the clock stopped: the operator reads the JSON, the benchmark only checks it.
      const list = JSON.parse(Buffer.concat(chunks).toString() || "[]") as Array<{ Names: string[] }>;
      resolve({
        ms,
        calls: 0,
        ours: list.filter((c) => c.Names.some((n) => n.startsWith(`${prefix}-`))).length,
      });
    });
  });
}

async function timedObserve(client: PodmanClient, prefix: string): Promise<Sample> {
  let calls = 0;
  const stop = client.observe(() => {
    calls++;
  });
  try {
    const started = performance.now();
    const observation = await observe(client);
    const ms = performance.now() - started;
    if (observation.calls !== calls)
      throw new Error(`observe() says ${observation.calls} calls, the transport counted ${calls}`);
    return { ms, calls, ours: observation.containers.filter((c) => c.name.startsWith(`${prefix}-`)).length };
  } finally {
    stop();
  }
}

async function timedList(client: PodmanClient, prefix: string): Promise<Sample> {
  const started = performance.now();
  const list = await client.containers.list([MANAGED_FILTER]);
  const ms = performance.now() - started;
  return { ms, calls: 1, ours: list.filter((c) => c.Names.some((n) => n.startsWith(`${prefix}-`))).length };
}

type MethodResult = Stats & { callsPerObservation: number | null; label: string };

type Result = {
  benchmark: "observe";
  date: string;
  machine: ReturnType<typeof machine> & { podman: string };
  params: typeof options & { running: number; exited: number; created: number };
  observed: { ours: number; otherManaged: number };
  methods: Record<Method, MethodResult>;
  ratio: { observeToBare: number; listToBare: number; target: number };
  pass: boolean;
};

async function measure(
  user: TestUser,
  client: PodmanClient,
  podmanPath: string,
): Promise<{ samples: Record<Method, Sample[]>; totalManaged: number }> {
  const samples: Record<Method, Sample[]> = { observe: [], bare: [], list: [] };
  const order: Method[] = ["observe", "bare", "list"];
  const runners: Record<Method, () => Promise<Sample>> = {
    observe: () => timedObserve(client, options.prefix),
    bare: () => bare(user, podmanPath, options.prefix),
    list: () => timedList(client, options.prefix),
  };
  let totalManaged = 0;
  const total = options.warmup + options.rounds;
  for (let round = 0; round < total; round++) {
    checkpoint();
    // Rotate the order every round, so no method always runs first (cold) or right after another.
    for (let i = 0; i < order.length; i++) {
      const method = order[(round + i) % order.length] as Method;
      const sample = await runners[method]();
      if (sample.ours !== options.containers)
        throw new Error(
          `${METHODS[method]} saw ${sample.ours} of the ${options.containers} managed containers`,
        );
      if (round >= options.warmup) samples[method].push(sample);
    }
    if (round === options.warmup - 1) log(`warm-up done; measuring ${options.rounds} rounds`);
  }
  totalManaged = (await client.containers.list([MANAGED_FILTER])).length;
  return { samples, totalManaged };
}

function report(result: Result): string {
  const ms = (x: number) => x.toFixed(1);
  const rows = (Object.keys(METHODS) as Method[]).map((method) => {
    const m = result.methods[method];
    return [
      m.label,
      ms(m.p50),
      ms(m.p90),
      ms(m.max),
      m.callsPerObservation === null ? "-" : String(m.callsPerObservation),
    ];
  });
  const p = result.params;
  const verdict = result.pass ? "PASS" : "FAIL";
  return [
    `observe benchmark, ${result.date}: ${p.containers} managed containers (${p.running} running, ${p.exited} exited, ${p.created} created) + ${p.noise} unmanaged`,
    `${result.machine.cpus} CPUs (${result.machine.cpuModel}), ${result.machine.memoryGiB} GiB, podman ${result.machine.podman}, node ${result.machine.node}, load ${result.machine.loadAverage}`,
    `${p.rounds} rounds after ${p.warmup} warm-up, methods interleaved; milliseconds per observation`,
    result.observed.otherManaged > 0
      ? `(the list also held ${result.observed.otherManaged} platform-labelled containers of others on this Podman)`
      : "",
    "",
    table(["method", "p50", "p90", "max", "calls/obs"], rows),
    "",
    `observe/bare (p50): ${result.ratio.observeToBare.toFixed(2)}x, target <= ${TARGET_RATIO}x: ${verdict}`,
    `list/bare (p50):    ${result.ratio.listToBare.toFixed(2)}x (reference)`,
  ]
    .filter((line, i, all) => line !== "" || all[i - 1] !== "")
    .join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<Result> {
  const user = await loadTestUser();
  const podmanPath = findPodman();
  const planned = plan(options.prefix, options.containers, options.noise);
  const count = (kind: Kind) => planned.filter((c) => c.managed && c.kind === kind).length;

  const image = await run(user, ["podman", "image", "exists", TEST_IMAGE]);
  if (image.code !== 0)
    throw new Error(`the test image ${TEST_IMAGE} is missing: run \`bin/archy doctor --fix\` as root`);

  const dir = mkdtempSync(`/tmp/${options.prefix}-`);
  let client: PodmanClient | undefined;
  try {
    if (isRoot) chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
    const socket = join(dir, "podman.sock");
    log(`starting podman system service on ${socket}`);
    client = await startService(user, socket);
    const version = (await client.info()).version;

    log(
      `creating ${planned.length} containers (${options.containers} managed, ${options.noise} unmanaged), prefix ${options.prefix}`,
    );
    const createStarted = performance.now();
    await createAll(client, planned, options.concurrency, user.uid);
    log(`created in ${((performance.now() - createStarted) / 1000).toFixed(1)} s`);

    const { samples, totalManaged } = await measure(user, client, podmanPath);
    const methods = {} as Record<Method, MethodResult>;
    for (const method of Object.keys(METHODS) as Method[]) {
      const stats = summarize(samples[method].map((s) => s.ms));
      const calls = samples[method].map((s) => s.calls);
      methods[method] = {
        label: METHODS[method],
        ...(Object.fromEntries(
          Object.entries(stats).map(([k, v]) => [k, k === "n" ? v : round(v)]),
        ) as Stats),
        callsPerObservation: method === "bare" ? null : Math.max(...calls),
      };
    }
    const ratio = methods.observe.p50 / methods.bare.p50;
    const result: Result = {
      benchmark: "observe",
      date: new Date().toISOString(),
      machine: { ...machine(), podman: version },
      params: { ...options, running: count("running"), exited: count("exited"), created: count("created") },
      observed: { ours: options.containers, otherManaged: totalManaged - options.containers },
      methods,
      ratio: {
        observeToBare: round(ratio, 3),
        listToBare: round(methods.list.p50 / methods.bare.p50, 3),
        target: TARGET_RATIO,
      },
      pass: ratio <= TARGET_RATIO,
    };
    return result;
  } finally {
    log("cleaning up");
    await cleanUp(user, client, options.prefix).catch((error) => log(`clean-up failed: ${error}`));
    await client?.close();
    await stopService();
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
