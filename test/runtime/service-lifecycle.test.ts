/**
 * The Podman service lifecycle, as the daemon lives it: `connectPodman` runs as the unprivileged
 * test user from a staged copy of the platform (CI's clone may be unreadable to that user), finds
 * no service (this host has no user systemd) and spawns one, and installs the hello-web sample.
 * SIGKILL of the daemon's whole process group must leave both the app's container and the service
 * running; a second daemon must find that service instead of spawning another.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { TEST_USER } from "../../src/host/layout.ts";
import { PodmanClient } from "../../src/runtime/libpod/client.ts";
import { podmanServicesOn } from "../support/processes.ts";
import { testUserEnv } from "../support/rootless.ts";
import { eventually, type LabSample, RuntimeLab } from "../support/runtime-lab.ts";
import { stageForTestUser } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const DRIVER = "test/support/podman-service-driver.ts";

type DriverReport = {
  origin: string;
  socketPath: string;
  servicePid?: number;
  driverPid: number;
  driverPgid: number;
  container?: string;
};

let lab: RuntimeLab;
let hello: LabSample;
let ownDir: string;
let ownSocket: string;
let appFile: string;
const drivers: ChildProcess[] = [];

/** Starts the driver as the test user, in a process group of its own; resolves with its report. */
async function startDriver(args: string[]): Promise<{ child: ChildProcess; report: DriverReport }> {
  const staged = stageForTestUser();
  const argv = [staged.node, join(staged.dir, DRIVER), "--own-socket", ownSocket, ...args];
  const env = testUserEnv();
  const [file, fileArgs] = isRoot
    ? [
        "runuser",
        ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
      ]
    : [argv[0] as string, argv.slice(1)];
  const child = spawn(file as string, fileArgs as string[], {
    cwd: staged.dir,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  drivers.push(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const report = await new Promise<DriverReport>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the driver did not report within 60 s:\n${stderr}`)),
      60_000,
    );
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as DriverReport);
      } catch (error) {
        reject(error);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the driver exited (${code}) before reporting:\n${stderr}`));
    });
  });
  return { child, report };
}

/** Whether a process runs (a zombie waiting to be reaped does not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function killGroup(child: ChildProcess, pgid: number): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-pgid, "SIGKILL");
  if (child.exitCode === null && child.signalCode === null) await exited;
}

async function answers(socket: string): Promise<boolean> {
  const client = new PodmanClient(socket);
  try {
    await client.ping(2_000);
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

before(async () => {
  lab = await RuntimeLab.open();
  hello = await lab.sample("hello-web");
  ownDir = `/tmp/archy-${lab.prefix}-own`;
  ownSocket = join(ownDir, "podman.sock");
  appFile = join(lab.root, "hello-web.json");
  writeFileSync(appFile, JSON.stringify({ manifest: hello.manifest, ctx: hello.ctx, key: "web" }), {
    mode: 0o644,
  });
});

after(async () => {
  for (const child of drivers)
    if (child.pid && child.exitCode === null && child.signalCode === null)
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
  // The services the drivers spawned, found on their socket (SIGTERM lets one remove its socket).
  // Never by a pid remembered from a report: that service may be gone and its pid another's now.
  for (const pid of ownSocket ? podmanServicesOn(ownSocket) : []) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
    await eventually(`service ${pid} to exit`, () => (alive(pid) ? undefined : true), 10_000).catch(() => {
      if (podmanServicesOn(ownSocket).includes(pid))
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
    });
  }
  if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  await lab?.close();
});

describe("real Podman: service lifecycle", () => {
  let first: DriverReport;

  test("connectPodman as the test user spawns a service; SIGKILL of the daemon's group leaves it and the app running", async () => {
    const { child, report } = await startDriver(["--app", appFile]);
    first = report;
    assert.equal(report.origin, "spawned", JSON.stringify(report));
    assert.equal(report.socketPath, ownSocket);
    assert.ok(report.servicePid && alive(report.servicePid), "the spawned service runs");
    assert.equal(report.container, hello.name("web"));
    assert.notEqual(report.driverPgid, process.pid);
    assert.deepEqual(podmanServicesOn(ownSocket), [report.servicePid]);

    const port = hello.ports.get("hello-web/web/8080/tcp");
    assert.ok(port);
    const page = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
      return response.status === 200 ? await response.text() : undefined;
    };
    const before = await eventually("hello-web to serve", () => page().catch(() => undefined), 30_000);

    await killGroup(child, report.driverPgid);
    await eventually("the driver to be gone", () => (alive(report.driverPid) ? undefined : true));
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const inspected = await lab.client.containers.inspect(hello.name("web"));
    assert.equal(inspected.State.Running, true, "the app's container still runs");
    assert.equal(await page(), before, "and still serves");
    assert.ok(alive(report.servicePid as number), "the service process outlived the daemon");
    assert.equal(await answers(ownSocket), true, "and still answers");
  });

  test("a second daemon finds the existing service instead of spawning another", async () => {
    assert.ok(first, "the first test ran");
    const { child, report } = await startDriver([]);
    assert.equal(report.origin, "existing", JSON.stringify(report));
    assert.equal(report.socketPath, ownSocket);
    assert.equal(report.servicePid, undefined);
    assert.deepEqual(podmanServicesOn(ownSocket), [first.servicePid], "still exactly one service");
    await killGroup(child, report.driverPgid);
    assert.ok(existsSync(ownSocket));
  });
});
