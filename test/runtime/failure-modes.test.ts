/**
 * What goes wrong under the runtime, on the real rootless Podman: containers killed or removed
 * behind its back, a foreign container holding an app's name, a missing image, the Podman service
 * restarted under an open event stream; and, with fault injection (a unix socket that accepts
 * connections and never answers, or none at all), calls that fail typed and in time.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { LABELS } from "../../src/manifest/naming.ts";
import { PodmanClient } from "../../src/runtime/libpod/client.ts";
import { isPodmanError, type PodmanError } from "../../src/runtime/libpod/errors.ts";
import type { EventStreamStatus, PodmanEvent } from "../../src/runtime/libpod/events.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import { RuntimeError } from "../../src/runtime/runtime.ts";
import { podman } from "../support/rootless.ts";
import { eventually, type LabSample, RuntimeLab, refOf, sleep } from "../support/runtime-lab.ts";
import { within } from "../support/wait.ts";

let lab: RuntimeLab;
let runtime: PodmanRuntime;
let notes: LabSample;

before(async () => {
  lab = await RuntimeLab.open();
  runtime = new PodmanRuntime({ client: lab.client, createWith: "podman" });
  notes = await lab.sample("notes");
  await runtime.ensureNetwork(notes.manifest, notes.ctx);
});

after(async () => {
  await lab?.close();
});

async function observed(name: string) {
  return (await runtime.observe()).containers.find((c) => c.name === name);
}

describe("real Podman: failure modes", () => {
  test("a container killed behind our back is observed exited, with its exit code", async () => {
    const name = notes.name("cache");
    await runtime.create(notes.manifest, "cache", notes.ctx);
    await runtime.start(refOf(name));
    assert.equal((await observed(name))?.state, "running");

    await podman(["kill", name]); // SIGKILL, by hand
    const seen = await eventually("the container to be seen exited", async () => {
      const c = await observed(name);
      return c?.state === "exited" ? c : undefined;
    });
    assert.equal(seen.exitCode, 137);
    assert.equal(seen.appId, notes.manifest.id);
    assert.equal(seen.key, "cache");
    assert.ok(seen.finishedAt !== undefined && seen.finishedAt <= Date.now() + 1000);
  });

  test("a container removed behind our back: no longer observed; stop and remove are no-ops", async () => {
    const name = notes.name("cache");
    await runtime.start(refOf(name));
    const ref = await observed(name);
    assert.ok(ref);
    await podman(["rm", "-f", "-t", "0", name]);
    assert.equal(await observed(name), undefined);
    assert.deepEqual(await runtime.stop(ref, 5), { via: "api", wasRunning: false });
    await runtime.remove(ref, 5);
    await runtime.remove(refOf(name, "quadlet", `${name}.service`), 5);
    assert.equal(await lab.client.containers.find(name), undefined);
  });

  test("a foreign container holding an app's name: create fails with name-conflict, the foreign one untouched", async () => {
    const name = notes.name("cache");
    const foreignId = (
      await podman(["run", "-d", "--name", name, TEST_IMAGE, "sleep", "600"], { timeoutMs: 60_000 })
    ).trim();
    const before = await lab.client.containers.inspect(name);
    await assert.rejects(runtime.create(notes.manifest, "cache", notes.ctx), (error: unknown) => {
      assert.ok(error instanceof RuntimeError, String(error));
      assert.equal(error.kind, "name-conflict");
      assert.match(error.message, /does not manage/);
      return true;
    });
    const after = await lab.client.containers.inspect(name);
    assert.equal(after.Id, foreignId);
    assert.equal(after.State.Running, true);
    assert.equal(after.State.StartedAt, before.State.StartedAt);
    assert.equal(after.Config.Labels?.[LABELS.owner], undefined);
    assert.equal(await observed(name), undefined, "a foreign container is not reported as managed");
    await podman(["rm", "-f", "-t", "0", name]);
  });

  test("a missing image: create fails with image-missing and creates nothing", async () => {
    const missing = await lab.sample("notes", (m) => {
      m.id = `${lab.prefix}-imageless`;
      for (const c of Object.values(m.containers)) {
        c.image = `localhost/archy-test/${lab.prefix}-absent:1`;
        delete c.container_name;
      }
    });
    const name = missing.name("cache");
    const calls: string[] = [];
    const unobserve = lab.client.observe((call) => calls.push(call.operation));
    try {
      await assert.rejects(runtime.create(missing.manifest, "cache", missing.ctx), (error: unknown) => {
        assert.ok(error instanceof RuntimeError, String(error));
        assert.equal(error.kind, "image-missing");
        assert.match(error.message, /absent/);
        return true;
      });
    } finally {
      unobserve();
    }
    assert.deepEqual(calls, ["image.inspect"], "nothing but the image check was attempted");
    assert.deepEqual(await lab.client.containers.listByName([name]), []);
  });

  test("the Podman service restarted under an open event stream: reconnects, later events exactly once", async () => {
    const name = notes.name("cache");
    await runtime.create(notes.manifest, "cache", notes.ctx);
    const events: PodmanEvent[] = [];
    const statuses: EventStreamStatus[] = [];
    const stream = lab.client.events({
      labels: [`${LABELS.app}=${notes.manifest.id}`],
      minDelayMs: 100,
      maxDelayMs: 400,
      onEvent: (event) => events.push(event),
      onStatus: (status) => statuses.push(status),
    });
    const count = (action: string) => events.filter((e) => e.action === action).length;
    try {
      await eventually("the stream to connect", () => (statuses.at(-1)?.connected ? true : undefined));
      await runtime.start(refOf(name));
      await eventually("the first start event", () => (count("start") === 1 ? true : undefined));

      await lab.service.stop();
      await eventually("the stream to report the disconnection", () =>
        statuses.some((s) => !s.connected) ? true : undefined,
      );
      // While no service answers, the container stops (by hand): the stream must catch up on it.
      await podman(["stop", "-t", "5", name]);
      await sleep(500);
      await lab.service.start();
      await eventually("the stream to reconnect", () =>
        statuses.at(-1)?.connected && (statuses.at(-1)?.reconnects ?? 0) > 0 ? true : undefined,
      );
      await eventually("the died event of the stop made while disconnected", () =>
        count("died") === 1 ? true : undefined,
      );

      await runtime.start(refOf(name));
      await runtime.stop(refOf(name), 5);
      await eventually("the second start and died", () =>
        count("start") === 2 && count("died") === 2 ? true : undefined,
      );
      await sleep(1000); // anything repeated would arrive by now

      const keys = events.map((e) => `${e.timeNano}|${e.id}|${e.action}`);
      assert.equal(new Set(keys).size, keys.length, `no event twice:\n${keys.join("\n")}`);
      assert.equal(count("start"), 2, keys.join("\n"));
      assert.equal(count("died"), 2, keys.join("\n"));
      const times = events.map((e) => e.timeNano);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        "in order",
      );
      assert.ok(
        statuses.some((s) => !s.connected && s.error),
        "the disconnection was reported with a reason",
      );
    } finally {
      await stream.stop();
    }
    await runtime.remove(refOf(name), 5);
  });
});

describe("libpod transport faults", () => {
  let hanging: Server;
  let dropping: Server;
  const sockets = new Set<Socket>();
  const hangPath = `/tmp/archy-fault-${process.pid}-${Date.now()}-hang.sock`;
  const dropPath = `/tmp/archy-fault-${process.pid}-${Date.now()}-drop.sock`;

  before(async () => {
    // Accepts every connection and never answers.
    hanging = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    });
    // Accepts, reads the request, then hangs up without a response (a service dying mid-call).
    dropping = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.destroy());
    });
    await new Promise<void>((resolve) => hanging.listen(hangPath, resolve));
    await new Promise<void>((resolve) => dropping.listen(dropPath, resolve));
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => hanging?.close(resolve));
    await new Promise((resolve) => dropping?.close(resolve));
  });

  /**
   * The call fails with `kind`; for a timeout, ended by its own limit of `limitMs` (its message
   * names it) and not before it. A call still pending a minute later fails the test. No upper bound
   * on the time: a busy machine fires timers late, which says nothing of the client — and a call
   * that waited when it should fail at once would fail with `timeout`, not `unavailable`.
   */
  async function failsWith(call: Promise<unknown>, kind: PodmanError["kind"], limitMs?: number) {
    const began = Date.now();
    const settled = await within(
      call.then(
        () => "resolved",
        (error: unknown) => error,
      ),
      { what: `the call to fail with ${kind}` },
    );
    await assert.rejects(Promise.reject(settled), (error: unknown) => {
      assert.ok(isPodmanError(error), String(error));
      assert.equal(error.kind, kind, error.message);
      if (limitMs !== undefined) assert.match(error.message, new RegExp(`within ${limitMs} ms`));
      return true;
    });
    const took = Date.now() - began;
    // Timers count from the event loop's cached time, taken when the current turn began: on a busy
    // machine that is tens of ms before `began` (CI saw 537 ms for a limit of 600). A fifth of the
    // limit as slack still tells the call's own limit from any shorter one.
    if (limitMs !== undefined)
      assert.ok(took >= limitMs * 0.8, `not before its limit (${took} ms, limit ${limitMs} ms)`);
  }

  test("a call that hangs fails with kind timeout within its limit", async () => {
    const client = new PodmanClient(hangPath, { timeoutMs: 600 });
    try {
      await failsWith(client.containers.list(["a=b"]), "timeout", 600);
      await failsWith(client.images.exists(TEST_IMAGE, 300), "timeout", 300);
      await failsWith(client.ping(400), "timeout", 400);
      // Calls in parallel each keep their own limit.
      await Promise.all([
        failsWith(client.containers.inspect("x"), "timeout", 600),
        failsWith(client.volumes.find("x"), "timeout", 600),
        failsWith(client.secrets.find("x"), "timeout", 600),
      ]);
      // A stream bounds the wait for its headers.
      await failsWith(client.containers.logs("x"), "timeout", 600);
    } finally {
      await client.close();
    }
  });

  test("a call queued behind streams that hold every connection still fails within its limit", async () => {
    // A service that answers every request with the headers of an endless stream.
    const streamPath = `/tmp/archy-fault-${process.pid}-${Date.now()}-stream.sock`;
    const streaming = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      socket.once("data", () =>
        socket.write(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
      );
    });
    await new Promise<void>((resolve) => streaming.listen(streamPath, resolve));
    const client = new PodmanClient(streamPath, { timeoutMs: 600 });
    const controller = new AbortController();
    try {
      // More streams than the client has connections: they all stay open (no header limit).
      const streams = Array.from({ length: 64 }, () =>
        client.transport
          .stream({
            method: "GET",
            path: "/events",
            operation: "events.stream",
            timeoutMs: 0,
            signal: controller.signal,
          })
          .catch(() => undefined),
      );
      await eventually("the streams to hold the connections", () => (sockets.size >= 16 ? true : undefined));
      await failsWith(client.containers.list(["a=b"]), "timeout", 600);
      await failsWith(client.ping(300), "timeout", 300);
      controller.abort(new Error("done"));
      await Promise.all(streams);
    } finally {
      controller.abort(new Error("done"));
      await Promise.race([client.close().catch(() => {}), sleep(2000)]);
      await new Promise((resolve) => streaming.close(resolve));
    }
  });

  test("an event stream on a hanging service reports the failure and keeps trying", async () => {
    const client = new PodmanClient(hangPath, { timeoutMs: 300 });
    const statuses: EventStreamStatus[] = [];
    const stream = client.events({ onEvent: () => {}, onStatus: (s) => statuses.push(s), minDelayMs: 50 });
    try {
      // The stream waits 10 s for headers: the first failure shows after that, and it goes on.
      await eventually("a reported failure", () => (statuses.some((s) => !s.connected) ? true : undefined));
      assert.match(statuses[0]?.error ?? "", /did not answer/);
    } finally {
      await stream.stop();
      await client.close();
    }
  });

  test("no socket: kind unavailable, at once", async () => {
    const client = new PodmanClient(`/tmp/archy-fault-${process.pid}-none.sock`, { timeoutMs: 5_000 });
    try {
      await failsWith(client.ping(), "unavailable");
      await failsWith(client.containers.list(["a=b"]), "unavailable");
    } finally {
      await client.close();
    }
  });

  test("a service that hangs up mid-call: kind unavailable", async () => {
    const client = new PodmanClient(dropPath, { timeoutMs: 5_000 });
    try {
      await failsWith(client.containers.inspect("x"), "unavailable");
    } finally {
      await client.close();
    }
  });
});
