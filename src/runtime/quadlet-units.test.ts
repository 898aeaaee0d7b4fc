/**
 * The runtime's Quadlet bookkeeping, with a fake Podman and a recorded `systemctl --user` over a real
 * unit directory: a Quadlet container that is down (its unit removed it: `--rm`) is observed from
 * its unit, a stop writes the drop-in that keeps it out of the boot even when no container runs,
 * a start takes it out again, units are written and systemd reloaded only when something changed,
 * and a removal leaves no unit or drop-in behind. The same paths run against a real systemd on the
 * systemd test node (test/ops/quadlet-daemon.test.ts, test/runtime/quadlet-backend.test.ts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { fakePodmanClient } from "../../test/support/fake-podman-client.ts";
import { loadSample } from "../../test/support/samples.ts";
import type { Manifest } from "../manifest/schema.ts";
import { podmanPlan, type RenderContext, renderQuadlet } from "../render/index.ts";
import type { PodmanClient } from "./libpod/client.ts";
import type { ContainerSummary } from "./libpod/containers.ts";
import type { ObservedContainer } from "./observed.ts";
import { PodmanRuntime, STOPPED_DROP_IN } from "./podman-runtime.ts";
import { type CommandRunner, LocalUnitStore, SystemdUser } from "./systemd.ts";

const ctx: RenderContext = { dataRoot: "/var/lib/archipelago", dependencies: {} };
const root = mkdtempSync(join(tmpdir(), "archy-quadlet-units-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A unit's state; `ran: false` for one whose process never ran since it was loaded. */
type UnitFacts = { active: string; result?: string; status?: number; ran?: boolean };

/** A `systemctl --user` that records what it is asked and answers `show` from `units`. */
function recordingSystemd(units: Map<string, UnitFacts>, calls: string[]): SystemdUser {
  const run: CommandRunner = async (argv) => {
    const args = argv.slice(2);
    calls.push(args.join(" "));
    if (args[0] === "show") {
      const names = args.slice(args.indexOf("--") + 1);
      const blocks = names.map((name) => {
        const unit = units.get(name);
        return [
          `Id=${name}`,
          `LoadState=${unit ? "loaded" : "not-found"}`,
          `ActiveState=${unit?.active ?? "inactive"}`,
          "SubState=dead",
          `Result=${unit?.result ?? "success"}`,
          `ExecMainStatus=${unit?.status ?? 0}`,
          `ExecMainStartTimestampMonotonic=${unit && unit.ran !== false ? 81234567 : 0}`,
        ].join("\n");
      });
      return { code: 0, stdout: `${blocks.join("\n\n")}\n`, stderr: "" };
    }
    return { code: 0, stdout: "", stderr: "" };
  };
  return new SystemdUser(run);
}

/** A Podman with the given containers listed (and nothing to find by id). */
function fakePodman(listed: ContainerSummary[] = []): PodmanClient {
  return fakePodmanClient({
    containers: {
      list: async () => listed,
      listByName: async () => [],
      find: async () => undefined,
      remove: async () => {},
    },
    images: { exists: async () => true },
    networks: { remove: async () => {} },
    volumes: { find: async () => undefined, remove: async () => {} },
  });
}

let hello: Manifest;
let dir: string;
let unitStore: LocalUnitStore;
let systemdUnits: Map<string, UnitFacts>;
let calls: string[];
let runtime: PodmanRuntime;

function runtimeWith(listed: ContainerSummary[] = []): PodmanRuntime {
  return new PodmanRuntime({
    client: fakePodman(listed),
    createWith: "quadlet",
    systemd: recordingSystemd(systemdUnits, calls),
    units: unitStore,
  });
}

beforeEach(async () => {
  hello ??= await loadSample("hello-web");
  dir = mkdtempSync(join(root, "units-"));
  unitStore = new LocalUnitStore(dir);
  systemdUnits = new Map();
  calls = [];
  runtime = runtimeWith();
});

async function install(manifest: Manifest): Promise<void> {
  for (const file of renderQuadlet(manifest, ctx)) await unitStore.write(file.path, file.content);
}

describe("Quadlet containers that are down are observed from their units", () => {
  test("a failed unit of the platform: an exited container of its app, with the unit's exit status", async () => {
    await install(hello);
    // A unit written by hand, without the platform's labels, is not the platform's.
    await unitStore.write("handmade.container", "[Container]\nImage=busybox\n");
    systemdUnits.set("hello-web.service", { active: "failed", result: "exit-code", status: 3 });
    const { containers } = await runtime.observe();
    assert.equal(containers.length, 1, JSON.stringify(containers));
    const [web] = containers as [ObservedContainer];
    const plan = podmanPlan(hello, ctx).containers[0];
    assert.equal(web.id, "hello-web.service");
    assert.equal(web.name, "hello-web");
    assert.equal(web.appId, "hello-web");
    assert.equal(web.key, "web");
    assert.equal(web.specHash, plan?.hash);
    assert.equal(web.state, "exited");
    assert.equal(web.exitCode, 3);
    assert.equal(web.backend, "quadlet");
    assert.equal(web.unit, "hello-web.service");
    assert.equal(web.startsAtBoot, true);
    assert.ok(web.createdAt !== undefined && web.createdAt > 0, "the unit's write time");
    assert.equal(calls.filter((c) => c.startsWith("show")).length, 1, "one systemctl call for all units");
  });

  test("units starting are created containers, stopping ones exited; a unit with the stop drop-in does not start at boot", async () => {
    await install(hello);
    // A unit deactivating after its container died is removing it: the container exited (on its
    // own, for the reconciler's crash accounting, as a plain container's SIGKILL shows).
    for (const [active, state] of [
      ["activating", "created"],
      ["active", "created"],
      ["deactivating", "exited"],
      ["inactive", "exited"],
      ["failed", "exited"],
    ] as const) {
      systemdUnits.set("hello-web.service", { active });
      assert.equal((await runtime.observe()).containers[0]?.state, state, active);
    }
    // Written and never run (a job's unit, before its first start): exit status 0 is no completion.
    systemdUnits.set("hello-web.service", { active: "inactive", ran: false });
    assert.equal((await runtime.observe()).containers[0]?.state, "created", "inactive, never ran");
    await unitStore.write(`hello-web.container.d/${STOPPED_DROP_IN}`, "[Install]\nWantedBy=\n");
    assert.equal((await runtime.observe()).containers[0]?.startsAtBoot, false);
  });

  test("a unit whose container Podman lists costs no read and no systemctl call", async () => {
    await install(hello);
    const plan = podmanPlan(hello, ctx).containers[0];
    const running: ContainerSummary = {
      Id: "a".repeat(64),
      Names: ["hello-web"],
      Image: plan?.body.image ?? "",
      State: "running",
      Labels: { ...plan?.body.labels, PODMAN_SYSTEMD_UNIT: "hello-web.service" },
      Created: new Date().toISOString(),
      StartedAt: 1,
      Exited: false,
      ExitedAt: 0,
      ExitCode: 0,
      Pid: 1,
    };
    const { containers } = await runtimeWith([running]).observe();
    assert.deepEqual(
      containers.map((c) => [c.id, c.state]),
      [["a".repeat(64), "running"]],
    );
    assert.deepEqual(calls, []);
  });

  test("without a user systemd wired, nothing but Podman is looked at", async () => {
    await install(hello);
    const plain = new PodmanRuntime({ client: fakePodman(), createWith: "podman" });
    assert.deepEqual((await plain.observe()).containers, []);
  });
});

describe("stop, start, create and remove keep units and their drop-ins right", () => {
  const down = async (): Promise<ObservedContainer> => {
    const found = (await runtime.observe()).containers[0];
    assert.ok(found, "the down unit is observed");
    return found;
  };

  test("a stop of a unit whose container is already gone still takes it out of the boot", async () => {
    await install(hello);
    systemdUnits.set("hello-web.service", { active: "failed", result: "exit-code", status: 1 });
    const outcome = await runtime.stop(await down(), 10);
    assert.deepEqual(outcome, { via: "systemd", wasRunning: false });
    assert.deepEqual(readdirSync(join(dir, "hello-web.container.d")), [STOPPED_DROP_IN]);
    assert.ok(calls.includes("daemon-reload"));
    assert.equal((await down()).startsAtBoot, false);
  });

  test("a start puts it back into the boot, forgets its failure and starts its unit", async () => {
    await install(hello);
    await unitStore.write(`hello-web.container.d/${STOPPED_DROP_IN}`, "[Install]\nWantedBy=\n");
    systemdUnits.set("hello-web.service", { active: "failed", result: "exit-code", status: 1 });
    await runtime.start(await down());
    assert.deepEqual(readdirSync(join(dir, "hello-web.container.d")), []);
    const acted = calls.filter((c) => !c.startsWith("show"));
    assert.deepEqual(acted, ["daemon-reload", "reset-failed hello-web.service", "start hello-web.service"]);
  });

  test("create writes the units and reloads systemd only when they changed", async () => {
    await runtime.create(hello, "web", ctx);
    assert.deepEqual(
      readdirSync(dir).sort(),
      renderQuadlet(hello, ctx)
        .map((f) => f.path)
        .sort(),
    );
    assert.deepEqual(
      calls.filter((c) => !c.startsWith("show")),
      ["daemon-reload", "start hello-web.service"],
    );
    calls.length = 0;
    systemdUnits.set("hello-web.service", { active: "inactive" });
    await runtime.create(hello, "web", ctx);
    assert.deepEqual(
      calls.filter((c) => !c.startsWith("show")),
      ["start hello-web.service"],
      "the same units: no reload",
    );
  });

  test("remove takes the unit and its drop-ins away; removing the app's resources takes the rest", async () => {
    await install(hello);
    await unitStore.write(`hello-web.container.d/${STOPPED_DROP_IN}`, "[Install]\nWantedBy=\n");
    systemdUnits.set("hello-web.service", { active: "inactive" });
    await runtime.remove(await down(), 10);
    assert.deepEqual(
      readdirSync(dir).sort(),
      renderQuadlet(hello, ctx)
        .map((f) => f.path)
        .filter((p) => !p.endsWith(".container"))
        .sort(),
    );
    assert.deepEqual((await runtime.observe()).containers, []);
    // A stopped app uninstalled: its other units, and any drop-in left, go with its resources.
    await unitStore.write(`hello-web.container.d/${STOPPED_DROP_IN}`, "[Install]\nWantedBy=\n");
    await runtime.removeAppResources(hello, ctx);
    assert.deepEqual(readdirSync(dir), []);
  });
});
