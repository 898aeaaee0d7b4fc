/**
 * How a start treats a container whose last run Podman has not cleaned up yet, and how a health
 * probe is judged when Podman is slow or away, against a scripted transport (the start race on real
 * Podman: test/runtime/port-after-kill.test.ts; probes: test/runtime/libpod-client.test.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ContainerInspect, Containers } from "./containers.ts";
import { PodmanError } from "./errors.ts";
import type { LibpodTransport, RequestOptions } from "./transport.ts";

type Run = { running: boolean; sandbox: string; startedAt: string; status?: string };

/** A transport answering inspects from a script of states (the last one repeats) and recording calls. */
function scripted(states: Run[]) {
  const calls: string[] = [];
  let next = 0;
  const inspect = (run: Run): ContainerInspect =>
    ({
      Id: "c1",
      Name: "web",
      Created: "",
      State: {
        Status: run.status ?? (run.running ? "running" : "exited"),
        Running: run.running,
        ExitCode: 0,
        StartedAt: run.startedAt,
        FinishedAt: "",
        Pid: 0,
      },
      Config: { Labels: null, StopTimeout: 3 },
      HostConfig: {},
      NetworkSettings: { SandboxKey: run.sandbox },
    }) as ContainerInspect;
  const transport = {
    async request(options: RequestOptions) {
      const verb = options.path.split("/").pop();
      calls.push(
        verb === "json"
          ? "inspect"
          : `${verb}${options.query?.t !== undefined ? ` t=${options.query.t}` : ""}`,
      );
      if (verb !== "json") return { status: 204, body: undefined };
      const run = states[Math.min(next++, states.length - 1)] as Run;
      return { status: 200, body: inspect(run) };
    },
  } as unknown as LibpodTransport;
  return { transport, calls };
}

const dead = (sandbox: string, startedAt = "12:00:00"): Run => ({ running: false, sandbox, startedAt });
const running = (sandbox: string, startedAt = "12:00:05"): Run => ({ running: true, sandbox, startedAt });

describe("Containers.start after a run died", () => {
  test("a container cleaned up already is started at once", async () => {
    const { transport, calls } = scripted([dead("")]);
    await new Containers(transport).start("web");
    assert.deepEqual(calls, ["inspect", "start"]);
  });

  test("waits until Podman has torn down the dead run's network, then starts", async () => {
    const { transport, calls } = scripted([dead("/run/netns/old"), dead("/run/netns/old"), dead("")]);
    await new Containers(transport, undefined, { pollMs: 1 }).start("web");
    assert.deepEqual(calls, ["inspect", "inspect", "inspect", "start"]);
  });

  test("when the cleanup does not come in time, a run on the old namespace is restarted", async () => {
    const { transport, calls } = scripted([
      dead("/run/netns/old"),
      dead("/run/netns/old"),
      running("/run/netns/old"),
    ]);
    await new Containers(transport, undefined, { cleanupTimeoutMs: 5, pollMs: 10 }).start("web");
    assert.deepEqual(calls, ["inspect", "inspect", "start", "inspect", "restart t=3"]);
  });

  test("when the late start got a network of its own, it is left alone", async () => {
    const { transport, calls } = scripted([
      dead("/run/netns/old"),
      dead("/run/netns/old"),
      running("/run/netns/new"),
    ]);
    await new Containers(transport, undefined, { cleanupTimeoutMs: 5, pollMs: 10 }).start("web");
    assert.deepEqual(calls, ["inspect", "inspect", "start", "inspect"]);
  });

  test("an initialized container (a namespace of its own, for this start) is not waited on, nor restarted", async () => {
    const { transport, calls } = scripted([
      { running: false, sandbox: "/run/netns/fresh", startedAt: "12:00:00", status: "initialized" },
      running("/run/netns/fresh", "12:00:09"),
    ]);
    await new Containers(transport).start("web");
    assert.deepEqual(calls, ["inspect", "start"]);
  });

  test("init waits for a dead run's cleanup too, then initializes", async () => {
    const { transport, calls } = scripted([dead("/run/netns/old"), dead("")]);
    await new Containers(transport, undefined, { pollMs: 1 }).init("web");
    assert.deepEqual(calls, ["inspect", "inspect", "init"]);
  });

  test("a running container is not waited on, nor restarted", async () => {
    const { transport, calls } = scripted([running("/run/netns/current")]);
    await new Containers(transport).start("web");
    assert.deepEqual(calls, ["inspect", "start", "inspect"]);
  });

  test("a container that died between the look and the start, started on its old namespace, is restarted", async () => {
    const { transport, calls } = scripted([
      running("/run/netns/current", "12:00:00"),
      running("/run/netns/current", "12:00:01"),
    ]);
    await new Containers(transport).start("web");
    assert.deepEqual(calls, ["inspect", "start", "inspect", "restart t=3"]);
  });
});

type Session = { Running: boolean; CanRemove: boolean; ExitCode: number };
const created: Session = { Running: false, CanRemove: false, ExitCode: 0 };
const busy: Session = { Running: true, CanRemove: false, ExitCode: 0 };
const ended = (code: number): Session => ({ Running: false, CanRemove: true, ExitCode: code });

/** A transport for exec sessions: create answers an id, start throws or answers, inspects follow a script. */
function execScript(start: PodmanError | undefined, sessions: Session[], createError?: PodmanError) {
  const calls: string[] = [];
  let next = 0;
  const transport = {
    defaultTimeoutMs: 30_000,
    async request(options: RequestOptions) {
      const verb = options.path.split("/").pop() as string;
      calls.push(verb === "exec" ? "create" : verb === "json" ? "inspect" : verb);
      if (verb === "exec") {
        if (createError) throw createError;
        return { status: 201, body: { Id: "s1" } };
      }
      if (verb === "start") {
        if (start) throw start;
        return { status: 200, body: Buffer.alloc(0) };
      }
      return { status: 200, body: sessions[Math.min(next++, sessions.length - 1)] };
    },
  } as unknown as LibpodTransport;
  return { transport, calls };
}

const startTimedOut = new PodmanError("timeout", "container.exec", "Podman did not answer within 2000 ms");

describe("Containers.probe when Podman is slow or away", () => {
  test("a probe whose process Podman did not start within the limit was not run: no verdict", async () => {
    const { transport, calls } = execScript(startTimedOut, [created]);
    const run = await new Containers(transport).probe("web", ["true"], 2_000);
    assert.deepEqual(run, {
      kind: "not-run",
      reason: "Podman did not start the probe within 2000 ms (the node is too busy to tell)",
    });
    assert.deepEqual(calls, ["create", "start", "inspect"]);
  });

  test("a process that started late gets its whole limit from then: an exit within it is judged by its code", async () => {
    const { transport } = execScript(startTimedOut, [busy, ended(0)]);
    assert.deepEqual(await new Containers(transport).probe("web", ["true"], 2_000), {
      kind: "exited",
      exitCode: 0,
      output: "",
    });
    const failing = execScript(startTimedOut, [busy, ended(1)]);
    assert.deepEqual(await new Containers(failing.transport).probe("web", ["false"], 2_000), {
      kind: "exited",
      exitCode: 1,
      output: "",
    });
  });

  test("a process still running after its whole limit timed out: that is the app's", async () => {
    const { transport } = execScript(startTimedOut, [busy]);
    const run = await new Containers(transport).probe("web", ["sleep", "60"], 10);
    assert.equal(run.kind, "timed-out");
  });

  test("Podman away, the container not running, or Podman's own exit code 125: not run", async () => {
    const away = new PodmanError(
      "unavailable",
      "container.exec",
      "the Podman service is not answering (ECONNREFUSED)",
    );
    const gone = execScript(undefined, [], away);
    assert.deepEqual(await new Containers(gone.transport).probe("web", ["true"], 2_000), {
      kind: "not-run",
      reason: away.message,
    });
    const improper = new PodmanError("conflict", "container.exec", "container state improper");
    const stopped = execScript(improper, []);
    assert.deepEqual(await new Containers(stopped.transport).probe("web", ["true"], 2_000), {
      kind: "not-run",
      reason: improper.message,
    });
    const podmanFailed = execScript(undefined, [ended(125)]);
    const run = await new Containers(podmanFailed.transport).probe("web", ["true"], 2_000);
    assert.equal(run.kind, "not-run", JSON.stringify(run));
  });
});
