/**
 * A stand-in daemon for the Podman service lifecycle test, run as the unprivileged test user from
 * the staged copy: connects with `connectPodman` (which finds a service on the socket or spawns
 * one), optionally installs one container of an app through the Runtime, prints one JSON line,
 * then stays alive until killed.
 *
 *   node podman-service-driver.ts --own-socket PATH [--app FILE.json]
 *   FILE.json: {"manifest": Manifest, "ctx": RenderContext, "key": "web"}
 *   stdout: {"origin","socketPath","servicePid","driverPid","driverPgid","container"}
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Manifest } from "../../src/manifest/schema.ts";
import type { RenderContext } from "../../src/render/index.ts";
import { podmanPlan } from "../../src/render/podman-spec.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import { connectPodman, defaultRuntimeDir } from "../../src/runtime/service.ts";

const { values } = parseArgs({
  options: { "own-socket": { type: "string" }, app: { type: "string" } },
});

const connection = await connectPodman({
  runtimeDir: defaultRuntimeDir(),
  ownSocketPath: values["own-socket"],
  log: (message) => process.stderr.write(`${message}\n`),
});

let container: string | undefined;
if (values.app) {
  const { manifest, ctx, key } = JSON.parse(readFileSync(values.app, "utf8")) as {
    manifest: Manifest;
    ctx: RenderContext;
    key: string;
  };
  const runtime = new PodmanRuntime({ client: connection.client, createWith: "podman" });
  await runtime.ensureNetwork(manifest, ctx);
  await runtime.ensureVolumes(manifest, ctx);
  await runtime.create(manifest, key, ctx);
  container = podmanPlan(manifest, ctx).containers.find((c) => c.key === key)?.name as string;
  await runtime.start({ id: container, name: container, backend: "podman", unit: undefined });
}

// The process group, as the test kills it: field 5 of /proc/self/stat (after the command name).
const stat = readFileSync("/proc/self/stat", "utf8");
const driverPgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
process.stdout.write(
  `${JSON.stringify({
    origin: connection.origin,
    socketPath: connection.socketPath,
    servicePid: connection.pid,
    driverPid: process.pid,
    driverPgid,
    container,
  })}\n`,
);
setInterval(() => {}, 60_000);
