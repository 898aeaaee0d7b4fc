/**
 * How a start treats a container whose last run Podman has not cleaned up yet, against a scripted
 * transport (the race itself, on real Podman: test/runtime/port-after-kill.test.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ContainerInspect, Containers } from "./containers.ts";
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
