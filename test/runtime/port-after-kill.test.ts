/**
 * A container killed and started again at once still answers on its published port — the race the
 * production gate found (see `Containers.start`): a start that beats Podman's cleanup of the dead
 * run reuses its network namespace without a port forwarder, and the port refuses connections while
 * the container runs and its in-container health probe passes. A supervisor reacting to the `died`
 * event starts within ~150 ms; here every round kills through the API and starts 0–100 ms later.
 * Without the guard, about one round in ten ends with a running container and a dead port. The fallback
 * for a cleanup that never comes is covered by src/runtime/libpod/containers.test.ts.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { LABELS, OWNER } from "../../src/manifest/naming.ts";
import { eventually, RuntimeLab } from "../support/runtime-lab.ts";
import { freePort } from "../support/samples.ts";
import { waitFor } from "../support/wait.ts";

const ROUNDS = 16;

let lab: RuntimeLab;

before(async () => {
  lab = await RuntimeLab.open();
});

after(async () => {
  await lab?.close();
});

/** Whether something accepts a TCP connection on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

/** Kills and starts a container with a published port `ROUNDS` times; the rounds its port stayed dead. */
async function killAndStartRounds(): Promise<string[]> {
  const tag = "port-race";
  const containers = lab.client.containers;
  const network = `archy-${lab.prefix}-${tag}`;
  const labels = { [LABELS.owner]: OWNER, [LABELS.app]: `${lab.prefix}-${tag}` };
  await lab.client.networks.create({ name: network, driver: "bridge", dns_enabled: true, labels });
  const port = await freePort();
  const name = `${lab.prefix}-${tag}-web`;
  await lab.client.containers.create({
    name,
    image: TEST_IMAGE,
    command: ["serve"],
    env: { PORT: "8080" },
    labels,
    stop_timeout: 2,
    netns: { nsmode: "bridge" },
    Networks: { [network]: {} },
    portmappings: [{ host_ip: "127.0.0.1", host_port: port, container_port: 8080, protocol: "tcp" }],
  });
  await containers.start(name);
  await eventually(
    "the port to answer before the first kill",
    async () => (await accepts(port)) || undefined,
  );

  const dead: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const delayMs = (round * 25) % 125;
    const kill = lab.client.containers.kill(name, "SIGKILL");
    await sleep(delayMs);
    await containers.start(name);
    await kill.catch(() => {}); // a kill that landed after the start's own check leaves it stopped
    if (!(await lab.client.containers.inspect(name)).State.Running) await containers.start(name);
    await eventually(`round ${round}: ${name} running`, async () =>
      (await lab.client.containers.inspect(name)).State.Running ? true : undefined,
    );
    // A dead port never answers again (nothing listens on the host side any more): a ceiling this
    // generous costs time only when the port is dead, and a busy machine cannot pass for one.
    const answered = await waitFor(() => accepts(port), {
      what: `round ${round}: port ${port} to answer`,
      timeoutMs: 30_000,
      intervalMs: 100,
    }).catch(() => false);
    if (!answered) dead.push(`round ${round} (start ${delayMs} ms after the kill)`);
  }
  return dead;
}

describe("real Podman: a published port after a kill and a quick start", () => {
  test(`the port answers after each of ${ROUNDS} kill-then-start rounds`, async () => {
    const dead = await killAndStartRounds();
    assert.deepEqual(dead, [], `the container ran but its port refused connections in: ${dead.join(", ")}`);
  });
});
