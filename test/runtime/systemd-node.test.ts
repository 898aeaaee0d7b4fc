/**
 * A real node (scripts/systemd-node): systemd as PID 1, rootless Podman 5 and Quadlet. A Quadlet
 * unit of the node user starts, stops, and comes back by itself after a real reboot of the node
 * (WantedBy=default.target + linger). The first run on a machine builds the node image (debootstrap,
 * a few minutes); later runs reuse it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { exec } from "../../src/system/exec.ts";
import { NODE_UID, type SystemdNode, startNode } from "../support/systemd-node.ts";
import { waitFor } from "../support/wait.ts";

const isRoot = process.getuid?.() === 0;
const buildTestImages = fileURLToPath(new URL("../../scripts/build-test-images", import.meta.url));

const UNIT = `[Unit]
Description=Hello from a Quadlet unit

[Container]
Image=${TEST_IMAGE}
Exec=serve
Label=io.archipelago.owner=archipelago

[Install]
WantedBy=default.target
`;

type PsEntry = { Id: string; Names: string[]; State: string; Labels: Record<string, string> | null };

describe("systemd node", { skip: isRoot ? false : "needs root (the node is a privileged container)" }, () => {
  let node: SystemdNode;
  const timings: string[] = [];

  before(
    async () => {
      node = await startNode();
      const build = node.build.cached ? "cached" : "built";
      timings.push(`image ${node.image} ${build} in ${(node.build.ms / 1000).toFixed(1)} s`);
      if (!node.build.cached) timings.push(...node.build.log.split("\n"));
      timings.push(`first boot in ${(node.bootMs / 1000).toFixed(1)} s`);
    },
    { timeout: 840_000 },
  );
  after(async () => {
    await node?.destroy();
  });

  /** The node user's containers named systemd-hello (Quadlet's name for hello.container). */
  async function hello(): Promise<PsEntry[]> {
    const out = await node.mustUser([
      "podman",
      "ps",
      "-a",
      "--filter",
      "name=^systemd-hello$",
      "--format",
      "json",
    ]);
    return JSON.parse(out) as PsEntry[];
  }

  test("runs systemd, Podman 5 and Quadlet", async (t) => {
    for (const line of timings) t.diagnostic(line);
    const init = await node.exec(["cat", "/proc/1/comm"]);
    assert.equal(init.stdout.trim(), "systemd");
    const state = await node.exec(["systemctl", "is-system-running"]);
    assert.match(state.stdout, /^(running|degraded)$/m, state.stderr);
    const version = await node.mustUser(["podman", "--version"]);
    assert.match(version, /^podman version 5\.\d+\.\d+/);
    t.diagnostic(version.trim());
    const quadlet = await node.exec(["test", "-x", "/usr/libexec/podman/quadlet"]);
    assert.equal(quadlet.code, 0, "/usr/libexec/podman/quadlet is missing");
    const info = await node.mustUser([
      "podman",
      "info",
      "--format",
      "{{.Host.CgroupsVersion}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}} {{.Store.GraphRoot}}",
    ]);
    assert.equal(info.trim(), "v2 systemd overlay /var/lib/nodestore/node-storage");
  });

  test("has the test image in the node user's storage, built like the host's", async () => {
    const hash = await exec(buildTestImages, ["--print-hash"]);
    assert.equal(hash.code, 0, hash.stderr);
    const label = await node.mustUser([
      "podman",
      "image",
      "inspect",
      "--format",
      '{{index .Labels "io.archipelago.test-image-hash"}}',
      TEST_IMAGE,
    ]);
    assert.equal(label.trim(), hash.stdout.trim());
  });

  test("starts, stops and starts a Quadlet unit of the node user", async () => {
    await node.mustUser(
      [
        "sh",
        "-c",
        "mkdir -p ~/.config/containers/systemd && cat >~/.config/containers/systemd/hello.container",
      ],
      { input: UNIT },
    );
    await node.mustUser(["systemctl", "--user", "daemon-reload"]);
    const generated = await node.mustUser(["systemctl", "--user", "cat", "hello.service"]);
    assert.match(
      generated,
      /^ExecStart=\/usr\/bin\/podman run --name systemd-%N .*--label io.archipelago.owner=archipelago/m,
    );

    await node.mustUser(["systemctl", "--user", "start", "hello.service"]);
    const [running, ...others] = await hello();
    assert.equal(others.length, 0);
    assert.ok(running, "no container systemd-hello after starting hello.service");
    assert.equal(running.State, "running");
    assert.equal(running.Labels?.["io.archipelago.owner"], "archipelago");
    assert.equal(running.Labels?.PODMAN_SYSTEMD_UNIT, "hello.service");
    const page = await node.mustUser([
      "podman",
      "exec",
      "systemd-hello",
      "wget",
      "-qO-",
      "http://127.0.0.1:8080/",
    ]);
    assert.match(page, /archipelago test image works/);

    await node.mustUser(["systemctl", "--user", "stop", "hello.service"]);
    assert.deepEqual(await hello(), [], "the container is still there after stopping hello.service");
    const inactive = await node.execUser(["systemctl", "--user", "is-active", "hello.service"]);
    assert.equal(inactive.stdout.trim(), "inactive");

    await node.mustUser(["systemctl", "--user", "start", "hello.service"]);
    assert.deepEqual(
      (await hello()).map((c) => c.State),
      ["running"],
    );
  });

  test("brings the unit back by itself after a reboot of the node", async (t) => {
    const [first] = await hello();
    assert.ok(first, "hello.service is not running before the reboot");
    await node.exec(["touch", "/run/archy-before-reboot"]);
    const oldInit = await node.exec(["systemctl", "show", "-P", "InvocationID", "user@1000.service"]);

    const ms = await node.reboot();
    t.diagnostic(`reboot (podman restart + boot) in ${(ms / 1000).toFixed(1)} s`);

    const marker = await node.exec(["test", "-e", "/run/archy-before-reboot"]);
    assert.notEqual(marker.code, 0, "/run survived: the node did not reboot");
    const newInit = await node.exec(["systemctl", "show", "-P", "InvocationID", "user@1000.service"]);
    assert.notEqual(newInit.stdout.trim(), oldInit.stdout.trim(), "the node user's manager did not restart");
    const linger = await node.exec(["loginctl", "show-user", String(NODE_UID), "-P", "Linger"]);
    assert.equal(linger.stdout.trim(), "yes");

    // The user manager may still be starting units when the node reports it has booted.
    const state = await waitFor(
      async () => {
        const now = (
          await node.execUser(["systemctl", "--user", "is-active", "hello.service"])
        ).stdout.trim();
        return (now === "active" || now === "failed") && now;
      },
      { what: "hello.service to be active (or failed) after the boot", intervalMs: 500 },
    ).catch((error: Error) => error.message);
    if (state !== "active") {
      const journal = await node.execUser([
        "journalctl",
        "--user",
        "-u",
        "hello.service",
        "-n",
        "40",
        "--no-pager",
      ]);
      assert.fail(
        `hello.service did not start at boot (it is ${state}):\n${journal.stdout}${journal.stderr}`,
      );
    }
    const [second, ...others] = await hello();
    assert.equal(others.length, 0);
    assert.ok(second, "no container systemd-hello after the reboot");
    assert.equal(second.State, "running");
    assert.notEqual(second.Id, first.Id, "the same container: it was not started again at boot");
    assert.equal(second.Labels?.PODMAN_SYSTEMD_UNIT, "hello.service");
    const page = await node.mustUser([
      "podman",
      "exec",
      "systemd-hello",
      "wget",
      "-qO-",
      "http://127.0.0.1:8080/",
    ]);
    assert.match(page, /archipelago test image works/);
  });
});
