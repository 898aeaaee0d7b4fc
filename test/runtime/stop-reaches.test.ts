/**
 * The seed's field failure, on the real rootless Podman: a stop that returned "stopping" while the
 * container kept running. Containers created by hand — one that looks like Quadlet's (a
 * `PODMAN_SYSTEMD_UNIT` label) but whose unit does not exist, one plain `podman run
 * --restart=unless-stopped` — are adopted by name, and the PodmanRuntime's stop must really stop them
 * (and keep them stopped against their restart policy), whatever the user's systemd says. This host
 * has no user systemd: the PodmanRuntime is given one whose commands fail, one that claims a stop worked
 * when it did nothing, or none at all. A fake client shows that an ineffective stop is an error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import type { ContainerInspect } from "../../src/runtime/libpod/containers.ts";
import type { ObservedContainer } from "../../src/runtime/observed.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import type { LegacyName } from "../../src/runtime/runtime.ts";
import { RuntimeError } from "../../src/runtime/runtime.ts";
import { type CommandRunner, SystemdUser } from "../../src/runtime/systemd.ts";
import { fakePodmanClient } from "../support/fake-podman-client.ts";
import { podman, runAsTestUser } from "../support/rootless.ts";
import { eventually, RuntimeLab, refOf, sleep } from "../support/runtime-lab.ts";

let lab: RuntimeLab;

before(async () => {
  lab = await RuntimeLab.open();
});

after(async () => {
  await lab?.close();
});

/** A user systemd that cannot be reached, as on this host (no user systemd, no linger). */
function unreachableSystemd(calls: string[]): SystemdUser {
  const run: CommandRunner = async (argv) => {
    calls.push(argv.join(" "));
    return { code: 1, stdout: "", stderr: "Failed to connect to bus: No medium found" };
  };
  return new SystemdUser(run);
}

/** A user systemd that knows the unit and says its stop worked, but never touches the container. */
function lyingSystemd(calls: string[]): SystemdUser {
  const run: CommandRunner = async (argv) => {
    calls.push(argv.join(" "));
    if (argv.includes("show"))
      return { code: 0, stdout: "LoadState=loaded\nActiveState=deactivating\nSubState=stop\n", stderr: "" };
    return { code: 0, stdout: "", stderr: "" };
  };
  return new SystemdUser(run);
}

async function runByHand(name: string, extra: string[]): Promise<void> {
  await podman(
    [
      "run",
      "-d",
      "--restart=unless-stopped",
      ...extra,
      "--name",
      name,
      "-e",
      "PORT=8080",
      TEST_IMAGE,
      "serve",
    ],
    { timeoutMs: 60_000 },
  );
}

async function inspect(name: string): Promise<ContainerInspect> {
  return lab.client.containers.inspect(name);
}

async function adopt(runtime: PodmanRuntime, name: string): Promise<ObservedContainer> {
  const legacy = new Map<string, LegacyName>([[name, { appId: `${lab.prefix}-legacy-app`, key: "main" }]]);
  const found = (await runtime.observe(legacy)).containers.find((c) => c.name === name);
  assert.ok(found, `${name} is observed by name`);
  return found;
}

/** Stopped now, and still stopped a few seconds later: the restart policy did not bring it back. */
async function staysStopped(name: string): Promise<void> {
  const now = await inspect(name);
  assert.equal(now.State.Running, false, `${name} is stopped`);
  await sleep(3000);
  const later = await inspect(name);
  assert.equal(later.State.Running, false, `${name} stays stopped`);
  assert.equal(later.State.StartedAt, now.State.StartedAt, `${name} was not started again`);
  assert.equal(later.RestartCount ?? 0, now.RestartCount ?? 0);
}

describe("real Podman: stop reaches every container", () => {
  test("a Quadlet-looking container whose unit is gone is really stopped, and stays stopped", async () => {
    const name = `${lab.prefix}-legacy`;
    await runByHand(name, ["--label", "PODMAN_SYSTEMD_UNIT=gone.service"]);

    // Its restart policy is live: when its process dies on its own, Podman starts it again.
    const first = await inspect(name);
    await runAsTestUser(["kill", "-KILL", String(first.State.Pid)]);
    await eventually("the restart policy to start it again", async () => {
      const now = await inspect(name);
      return now.State.Running && (now.RestartCount ?? 0) > (first.RestartCount ?? 0) ? true : undefined;
    });

    const variants: Array<[string, SystemdUser | undefined, string[]]> = [];
    const unreachable: string[] = [];
    const lying: string[] = [];
    variants.push(["an unreachable user systemd", unreachableSystemd(unreachable), unreachable]);
    variants.push(["a user systemd whose stop does nothing", lyingSystemd(lying), lying]);
    variants.push(["no user systemd", undefined, []]);
    for (const [what, systemd, calls] of variants) {
      const logs: string[] = [];
      const runtime = new PodmanRuntime({
        client: lab.client,
        createWith: "podman",
        systemd,
        log: (m) => logs.push(m),
      });
      const observed = await adopt(runtime, name);
      assert.equal(observed.backend, "quadlet", what);
      assert.equal(observed.unit, "gone.service");
      assert.equal(observed.state, "running", `${what}: running before the stop`);

      const outcome = await runtime.stop(observed, 5);
      assert.deepEqual(outcome, { via: "api", wasRunning: true }, what);
      await staysStopped(name);
      assert.equal((await adopt(runtime, name)).state, "exited", `${what}: observed stopped`);
      if (systemd)
        assert.ok(
          calls.some((c) => c.includes("gone.service")),
          `${what}: systemd was asked first`,
        );
      if (systemd === variants[1]?.[1]) {
        assert.ok(calls.includes("systemctl --user stop gone.service"), calls.join("\n"));
        assert.ok(
          logs.some((m) => m.includes("left") && m.includes(name)),
          "the ineffective systemd stop is logged",
        );
      }
      // Stopping a stopped container is fine.
      assert.equal((await runtime.stop(observed, 5)).wasRunning, false);
      assert.equal((await inspect(name)).State.Running, false);

      // A start, likewise, reaches the container whatever systemd says.
      await runtime.start(observed);
      assert.equal((await inspect(name)).State.Running, true, `${what}: started again`);
      if (systemd === variants[1]?.[1])
        assert.ok(
          logs.some((m) => m.includes("left") && m.includes("stopped")),
          logs.join("\n"),
        );
    }
    const plain = new PodmanRuntime({ client: lab.client, createWith: "podman" });
    await plain.remove(await adopt(plain, name), 5);
    assert.equal(await lab.client.containers.find(name), undefined);
  });

  test("a plain `podman run --restart=unless-stopped` container adopted by name: stop, start, restart, remove reach it", async () => {
    const name = `${lab.prefix}-plain`;
    await runByHand(name, []);
    const runtime = new PodmanRuntime({
      client: lab.client,
      createWith: "podman",
      systemd: unreachableSystemd([]),
    });
    const observed = await adopt(runtime, name);
    assert.equal(observed.backend, "podman");
    assert.equal(observed.appId, `${lab.prefix}-legacy-app`);

    assert.deepEqual(await runtime.stop(observed, 5), { via: "api", wasRunning: true });
    await staysStopped(name);

    await runtime.start(observed);
    const started = await inspect(name);
    assert.equal(started.State.Running, true);

    await sleep(1100); // start times are compared at a resolution Podman reports
    await runtime.restart(observed, 5);
    const restarted = await inspect(name);
    assert.equal(restarted.State.Running, true);
    assert.notEqual(restarted.State.StartedAt, started.State.StartedAt, "restart started it again");

    await runtime.remove(observed, 5);
    assert.equal(await lab.client.containers.find(name), undefined, "removed although it was running");
    const legacy = new Map([[name, { appId: "x", key: "y" }]]);
    assert.equal(
      (await runtime.observe(legacy)).containers.some((c) => c.name === name),
      false,
    );
  });

  test("a stop that leaves the container running is an error, never a success", async () => {
    const stops: string[] = [];
    const running: ContainerInspect = {
      Id: "f".repeat(64),
      Name: "stubborn",
      Created: new Date().toISOString(),
      State: {
        Status: "running",
        Running: true,
        ExitCode: 0,
        StartedAt: new Date().toISOString(),
        FinishedAt: "",
        Pid: 4242,
      },
      Config: { Labels: {} },
      HostConfig: {},
    };
    const fake = fakePodmanClient({
      containers: {
        find: async () => running,
        inspect: async () => running,
        stop: async (id: string) => {
          stops.push(id); // "succeeds" without any effect
        },
      },
    });
    for (const systemd of [undefined, lyingSystemd([])]) {
      const runtime = new PodmanRuntime({ client: fake, createWith: "podman", systemd });
      await assert.rejects(
        runtime.stop(refOf("stubborn", "quadlet", "stubborn.service"), 5),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeError, String(error));
          assert.equal(error.kind, "stop-ineffective");
          assert.match(error.message, /still running/);
          return true;
        },
      );
    }
    assert.equal(stops.length, 2, "the API stop was tried each time");
  });
});
