/**
 * The Quadlet backend and the observed-backend dispatch, on a real systemd node (scripts/systemd-node:
 * Debian 13, systemd as PID 1, rootless Podman 5.4 with Quadlet, a lingering user). The runtime runs
 * on the host as it would in the daemon: `Runtime({ createWith: "quadlet" })` with the node user's
 * `systemctl --user` (through `node.execUser`), the node user's Quadlet directory and the node user's
 * Podman API (a socket in a host directory bind-mounted into the node).
 *
 * The samples run with their own ids, names and ports (the node is theirs alone); only their memory
 * limits are dropped where the node has no memory controller (see `before`). Ports are reached from
 * inside the node, on its loopback. The phases share one node and run in order; a real reboot
 * (`podman restart` of the node) sits between them twice; a Quadlet container the platform stopped
 * stays stopped across it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { LABELS, OWNER } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import { podmanPlan, type RenderContext, renderQuadlet } from "../../src/render/index.ts";
import { PodmanClient } from "../../src/runtime/libpod/client.ts";
import { type ObservedContainer, SYSTEMD_UNIT_LABEL } from "../../src/runtime/observed.ts";
import { PodmanRuntime } from "../../src/runtime/podman-runtime.ts";
import type { LegacyName } from "../../src/runtime/runtime.ts";
import { SystemdUser } from "../../src/runtime/systemd.ts";
import { CommandUnitStore, NODE_QUADLET_DIR, nodeRunner } from "../support/node-systemd.ts";
import { loadSample } from "../support/samples.ts";
import { NODE_UID, NODE_USER, type SystemdNode, startNode } from "../support/systemd-node.ts";
import { waitFor } from "../support/wait.ts";

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : "needs root (the node is a privileged container)";

/** The data root of the platform inside the node, created by the node user before anything is installed. */
const DATA_ROOT = `/home/${NODE_USER}/.local/share/archipelago`;
const ctx: RenderContext = { dataRoot: DATA_ROOT, dependencies: {} };

/** Containers created by hand in the node, in both styles, and the field failure's containers. */
const HANDMADE_UNIT = "handmade.container"; // Quadlet names its container systemd-handmade
const HANDMADE_QUADLET = "systemd-handmade";
const HANDMADE_PLAIN = "handmade-plain";
const GHOST = "ghost-labelled";
const STUBBORN_UNIT = "stubborn.container";
const STUBBORN = "systemd-stubborn";
const STUBBORN_DROPIN = `/home/${NODE_USER}/.config/systemd/user/stubborn.service.d`;

/** What the operator declared for adoption: containers without the platform's labels, by name. */
const legacy = new Map<string, LegacyName>([
  [HANDMADE_QUADLET, { appId: "handmade", key: "quadlet" }],
  [HANDMADE_PLAIN, { appId: "handmade", key: "plain" }],
  [GHOST, { appId: "ghost", key: "main" }],
  [STUBBORN, { appId: "stubborn", key: "main" }],
]);

type PsEntry = { Id: string; Names: string[]; State: string; Labels: Record<string, string> | null };

let node: SystemdNode;
let client: PodmanClient;
let systemd: SystemdUser;
let units: CommandUnitStore;
let runtime: PodmanRuntime;
let hello: Manifest;
let notes: Manifest;
const runtimeLog: string[] = [];
/** The state of the stopped Quadlet container after the first reboot ("not checked" before it). */
let stubbornAfterReboot: string | undefined = "not checked";
const timings: string[] = [];

before(
  async () => {
    if (!isRoot) return;
    node = await startNode({ podmanSocket: true });
    timings.push(
      `node image ${node.build.cached ? "cached" : "built"} in ${(node.build.ms / 1000).toFixed(1)} s, first boot ${(node.bootMs / 1000).toFixed(1)} s`,
    );
    client = new PodmanClient(node.podmanSocket as string);
    await client.ping(10_000);
    const run = nodeRunner(node);
    systemd = new SystemdUser(run);
    units = new CommandUnitStore(run, NODE_QUADLET_DIR);
    runtime = new PodmanRuntime({
      createWith: "quadlet",
      client,
      systemd,
      units,
      log: (message) => runtimeLog.push(message),
    });
    hello = await loadSample("hello-web");
    notes = await loadSample("notes");
    // This host's kernel has its controllers in cgroup v1 hierarchies (hybrid layout), so the node's
    // cgroup v2 tree has none and crun cannot set memory.max ("opening file `memory.max` for
    // writing"). A real Debian 13 node delegates memory to user@.service; here the samples' memory
    // limits are dropped, and only then.
    const controllers = await node.exec([
      "cat",
      `/sys/fs/cgroup/user.slice/user-${NODE_UID}.slice/cgroup.controllers`,
    ]);
    if (!controllers.stdout.split(/\s+/).includes("memory")) {
      for (const m of [hello, notes]) for (const c of Object.values(m.containers)) delete c.memory;
      timings.push("no memory controller in the node's cgroup v2 tree (hybrid host): memory limits dropped");
    }
    // What the daemon does before an install: the app volumes' directories under the data root,
    // owned by the container's data uid (hello-web's web runs as 1000; notes' db as root, i.e. the
    // node user itself).
    const helloContent = `${DATA_ROOT}/apps/hello-web/volumes/content`;
    const notesData = `${DATA_ROOT}/apps/notes/volumes/db-data`;
    await node.mustUser(["mkdir", "-p", helloContent, notesData]);
    await node.mustUser(["podman", "unshare", "chown", "1000:1000", helloContent]);
  },
  { timeout: 900_000 },
);

after(async () => {
  await client?.close();
  await node?.destroy();
});

// ---------------------------------------------------------------------------------------------
// Helpers

async function observed(name: string): Promise<ObservedContainer | undefined> {
  const observation = await runtime.observe(legacy);
  return observation.containers.find((c) => c.name === name);
}

async function mustObserve(name: string): Promise<ObservedContainer> {
  const found = await observed(name);
  assert.ok(found, `the platform does not observe ${name}`);
  return found;
}

/** The node user's view of a container, from the Podman CLI in the node (not through the API). */
async function ps(name: string): Promise<PsEntry | undefined> {
  const out = await node.mustUser(["podman", "ps", "-a", "--filter", `name=^${name}$`, "--format", "json"]);
  const entries = JSON.parse(out) as PsEntry[];
  assert.ok(entries.length <= 1, `${entries.length} containers named ${name}`);
  return entries[0];
}

/**
 * The container, running. A container whose unit has just been started may still be listed as
 * "created" for a moment (see `install`): that state alone is waited out.
 */
async function mustRun(name: string): Promise<PsEntry> {
  const { entry } = await waitFor(
    async () => {
      const entry = await ps(name);
      return entry?.State !== "created" && { entry };
    },
    { what: `${name} to leave the state created`, intervalMs: 100 },
  );
  assert.equal(entry?.State, "running", `${name} is ${entry ? entry.State : "not there"}, not running`);
  return entry as PsEntry;
}

/** What the platform observes of a container that `mustRun` found running. */
async function observeRunning(name: string): Promise<ObservedContainer> {
  const { Id } = await mustRun(name);
  const found = await mustObserve(name);
  assert.equal(found.id, Id);
  return found;
}

/** Gone (a Quadlet container: `--rm`) or stopped (a plain one). */
async function mustBeDown(name: string): Promise<void> {
  const entry = await ps(name);
  assert.ok(entry === undefined || entry.State === "exited", `${name} is ${entry?.State}, not down`);
}

async function activeState(unit: string): Promise<string> {
  return (await systemd.state(unit)).active;
}

/** A page from a port published in the node, fetched on the node's loopback. */
async function page(port: number): Promise<string> {
  const run = await node.exec(["curl", "-fsS", "--max-time", "5", `http://127.0.0.1:${port}/`]);
  assert.equal(run.code, 0, `http://127.0.0.1:${port}/ in the node: ${run.stderr}`);
  return run.stdout;
}

/**
 * `PodmanRuntime.create` of one container, then a wait until Podman reports it running: `systemctl start`
 * of a Quadlet unit returns once conmon reported the container started (Type=notify), which can be
 * a moment before Podman records the state "running" (it still lists "created").
 */
async function install(manifest: Manifest, key: string): Promise<string> {
  const begun = Date.now();
  await runtime.create(manifest, key, ctx);
  const created = Date.now() - begun;
  const name = podmanPlan(manifest, ctx).containers.find((c) => c.key === key)?.name as string;
  const first = (await observed(name))?.state;
  await waitFor(async () => (await observed(name))?.state === "running", {
    what: `${name} to run`,
    seen: async () => (await observed(name))?.state ?? "not there",
  });
  return `PodmanRuntime.create(${manifest.id}/${key}) in ${created} ms; observed right after: ${first}, running after ${Date.now() - begun} ms`;
}

function specHashOf(manifest: Manifest, key: string): string {
  const plan = podmanPlan(manifest, ctx).containers.find((c) => c.key === key);
  assert.ok(plan, `${manifest.id} has no container ${key}`);
  return plan.hash;
}

function assertManaged(c: ObservedContainer, manifest: Manifest, key: string, unit: string): void {
  assert.equal(c.state, "running", `${c.name} is ${c.state}`);
  assert.equal(c.backend, "quadlet");
  assert.equal(c.unit, unit);
  assert.equal(c.appId, manifest.id);
  assert.equal(c.key, key);
  assert.equal(c.image, TEST_IMAGE);
  assert.equal(c.labels[LABELS.owner], OWNER);
  assert.equal(c.labels[LABELS.version], manifest.version);
  assert.equal(c.labels[SYSTEMD_UNIT_LABEL], unit);
  assert.equal(
    c.specHash,
    specHashOf(manifest, key),
    `${c.name}: the spec hash differs from the plain backend's`,
  );
}

const HANDMADE_QUADLET_UNIT = `[Unit]
Description=Written by hand, not by the platform

[Container]
Image=${TEST_IMAGE}
Exec=serve

[Install]
WantedBy=default.target
`;

// ---------------------------------------------------------------------------------------------

describe("systemd node: Quadlet backend installs and runs the samples", { skip }, () => {
  test("hello-web: rendered units installed, service started, container up with the platform's labels", async (t) => {
    for (const line of timings) t.diagnostic(line);
    t.diagnostic(await install(hello, "web"));

    const rendered = renderQuadlet(hello, ctx).map((f) => f.path);
    assert.deepEqual(rendered, [
      "archy-hello-web.network",
      "archy-hello-web_content.volume",
      "hello-web.container",
    ]);
    const installed = await units.list();
    for (const file of rendered) assert.ok(installed.includes(file), `${file} is not installed`);
    for (const file of renderQuadlet(hello, ctx))
      assert.equal(
        (await units.read(file.path))?.content,
        file.content,
        `${file.path} differs from the rendered file`,
      );

    assert.equal(await activeState("hello-web.service"), "active");
    assert.equal(await activeState("archy-hello-web-network.service"), "active");
    assert.equal(await activeState("archy-hello-web_content-volume.service"), "active");
    const web = await mustObserve("hello-web");
    assertManaged(web, hello, "web", "hello-web.service");
    assert.equal((await mustRun("hello-web")).Id, web.id);
    assert.match(await page(18080), /archipelago test image works/);

    // The volume is the data directory: the container seeded it as the data uid.
    const seeded = await node.mustUser([
      "podman",
      "unshare",
      "stat",
      "-c",
      "%u %n",
      `${DATA_ROOT}/apps/hello-web/volumes/content/www/index.html`,
    ]);
    assert.match(seeded, /^1000 /);
  });

  test("notes: three containers started in depends_on order; web reaches db and cache by alias", async (t) => {
    const order = podmanPlan(notes, ctx).containers.map((c) => c.name);
    assert.deepEqual(order, ["notes--cache", "notes-database", "notes--web"]);
    for (const c of podmanPlan(notes, ctx).containers) t.diagnostic(await install(notes, c.key));
    const observation = await runtime.observe();
    const byName = new Map(observation.containers.map((c) => [c.name, c]));
    for (const c of podmanPlan(notes, ctx).containers)
      assertManaged(byName.get(c.name) as ObservedContainer, notes, c.key, `${c.name}.service`);
    assert.equal(observation.calls, 1);

    // The database waits for health (Notify=healthy) before the web container may start.
    const db = await client.containers.inspect("notes-database");
    assert.equal(
      (db as unknown as { State: { Health?: { Status: string } } }).State.Health?.Status,
      "healthy",
    );

    const webRef = byName.get("notes--web") as ObservedContainer;
    // Through the API (exec), by the aliases on the app network (aardvark-dns).
    for (const alias of ["database", "postgres"]) {
      const reach = await runtime.exec(webRef, ["sh", "-c", `nc -w 3 ${alias} 5432 </dev/null`], 10_000);
      assert.equal(
        `${reach.exitCode} ${reach.stdout.trim()}`,
        "0 ok",
        `notes--web -> ${alias}:5432: ${reach.stderr}`,
      );
    }
    // (busybox 1.35's wget crashes with -T: timeout(1) bounds it instead)
    const cache = await runtime.exec(webRef, ["timeout", "5", "wget", "-qO-", "http://redis:6379/"], 10_000);
    assert.match(cache.stdout, /archipelago test image works/, `notes--web -> redis:6379: ${cache.stderr}`);
    let body = "";
    await waitFor(
      async () => {
        const run = await node.exec(["curl", "-fsS", "--max-time", "3", "http://127.0.0.1:18081/"]);
        body = run.stdout;
        return run.code === 0;
      },
      { what: "notes--web to serve its page" },
    );
    assert.match(body, /database says: ok/);
  });
});

describe("systemd node: PodmanRuntime stop, start and restart reach Quadlet containers through systemd", {
  skip,
}, () => {
  test("stop: the unit is inactive and the container gone; start: running again", async () => {
    const web = await mustObserve("hello-web");
    const outcome = await runtime.stop(web, 15);
    assert.deepEqual(outcome, { via: "systemd", wasRunning: true });
    assert.equal(await activeState("hello-web.service"), "inactive");
    // Quadlet runs containers with --rm: a stopped unit leaves no container behind.
    assert.equal(await ps("hello-web"), undefined);
    // The platform still sees it, from its unit: down, and kept out of the boot by the stop.
    const down = await observed("hello-web");
    assert.equal(down?.id, "hello-web.service");
    assert.equal(down?.state, "exited");
    assert.equal(down?.backend, "quadlet");
    assert.equal(down?.key, "web");
    assert.equal(down?.startsAtBoot, false);

    // The platform starts it from what it last observed (the unit), not from a container.
    await runtime.start(web);
    assert.equal(await activeState("hello-web.service"), "active");
    const again = await observeRunning("hello-web");
    assertManaged(again, hello, "web", "hello-web.service");
    assert.notEqual(again.id, web.id);
    assert.match(await page(18080), /archipelago test image works/);
  });

  test("restart: a new container under the same unit", async () => {
    const before = await mustObserve("notes--cache");
    await runtime.restart(before, 5);
    const after = await observeRunning("notes--cache");
    assertManaged(after, notes, "cache", "notes--cache.service");
    assert.notEqual(after.id, before.id);
  });

  test("stopping a container others Require stops them too (systemd), and start order is systemd's", async () => {
    const db = await mustObserve("notes-database");
    const outcome = await runtime.stop(db, 5);
    assert.equal(outcome.via, "systemd");
    // notes--web.service Requires= notes-database.service: systemd stops it with its dependency.
    assert.equal(await activeState("notes-database.service"), "inactive");
    assert.equal(await activeState("notes--web.service"), "inactive");
    await mustBeDown("notes-database");
    await mustBeDown("notes--web");
    // Starting the dependent starts its dependency first (Requires= + After=).
    await runtime.start(goneRef("notes--web"));
    await mustRun("notes-database");
    await mustRun("notes--web");
  });
});

/** What the platform remembers of a Quadlet container that is gone (stopped, `--rm`): name and unit. */
function goneRef(name: string): Pick<ObservedContainer, "id" | "name" | "backend" | "unit"> {
  return { id: name, name, backend: "quadlet", unit: `${name}.service` };
}

describe("systemd node: containers created by hand are observed and reached", { skip }, () => {
  test("a hand-written Quadlet unit: adopted by name, backend quadlet; stop, start, restart via systemd", async () => {
    await node.mustUser(
      ["sh", "-c", `mkdir -p ${NODE_QUADLET_DIR} && cat >${NODE_QUADLET_DIR}/${HANDMADE_UNIT}`],
      {
        input: HANDMADE_QUADLET_UNIT,
      },
    );
    await node.mustUser(["systemctl", "--user", "daemon-reload"]);
    await node.mustUser(["systemctl", "--user", "start", "handmade.service"]);

    const c = await mustObserve(HANDMADE_QUADLET);
    assert.equal(c.backend, "quadlet");
    assert.equal(c.unit, "handmade.service");
    assert.equal(c.appId, "handmade");
    assert.equal(c.state, "running");
    assert.equal(
      (await runtime.observe()).containers.find((x) => x.name === HANDMADE_QUADLET),
      undefined,
    );

    assert.deepEqual(await runtime.stop(c, 10), { via: "systemd", wasRunning: true });
    assert.equal(await activeState("handmade.service"), "inactive");
    assert.equal(await ps(HANDMADE_QUADLET), undefined);

    await runtime.start(c);
    assert.equal(await activeState("handmade.service"), "active");
    const started = await mustRun(HANDMADE_QUADLET);

    await runtime.restart(await mustObserve(HANDMADE_QUADLET), 10);
    assert.equal(await activeState("handmade.service"), "active");
    assert.notEqual((await mustRun(HANDMADE_QUADLET)).Id, started.Id);
  });

  test("a plain `podman run --restart=unless-stopped` container: adopted by name, backend podman; stop, start, restart via the API", async (t) => {
    await node.mustUser([
      "podman",
      "run",
      "-d",
      "--name",
      HANDMADE_PLAIN,
      "--restart=unless-stopped",
      TEST_IMAGE,
      "serve",
    ]);
    const c = await mustObserve(HANDMADE_PLAIN);
    assert.equal(c.backend, "podman");
    assert.equal(c.unit, undefined);
    assert.equal(c.appId, "handmade");

    assert.deepEqual(await runtime.stop(c, 10), { via: "api", wasRunning: true });
    assert.equal((await ps(HANDMADE_PLAIN))?.State, "exited");
    // The restart policy does not undo a stop through the API.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal((await ps(HANDMADE_PLAIN))?.State, "exited");

    await runtime.start(c);
    const running = await mustRun(HANDMADE_PLAIN);
    assert.equal(running.Id, c.id);

    const before = await client.containers.inspect(HANDMADE_PLAIN);
    await runtime.restart(c, 10);
    const after = await client.containers.inspect(HANDMADE_PLAIN);
    assert.equal(after.State.Running, true);
    assert.notEqual(after.State.StartedAt, before.State.StartedAt);

    // Started through the API, its conmon does not live in the API service: the service exits
    // when idle (socket activation) and the container keeps running.
    await waitFor(async () => (await activeState("archy-host-podman.service")) === "inactive", {
      what: "the node user's API service to exit when idle",
    });
    t.diagnostic("archy-host-podman.service exited while idle");
    await mustRun(HANDMADE_PLAIN);
  });
});

describe("systemd node: the seed's field failure (a stop that never reached the container)", { skip }, () => {
  test("PODMAN_SYSTEMD_UNIT names a unit that is not loaded: systemctl cannot stop it, PodmanRuntime.stop does", async () => {
    await node.mustUser([
      "podman",
      "run",
      "-d",
      "--name",
      GHOST,
      "--restart=unless-stopped",
      "--label",
      `${SYSTEMD_UNIT_LABEL}=ghost.service`,
      TEST_IMAGE,
      "serve",
    ]);
    // What the seed did: ask systemd. The unit does not exist, the container keeps running.
    const naive = await node.execUser(["systemctl", "--user", "stop", "ghost.service"]);
    assert.notEqual(naive.code, 0);
    assert.match(naive.stderr, /not loaded/);
    await mustRun(GHOST);

    const c = await mustObserve(GHOST);
    assert.equal(c.backend, "quadlet");
    assert.equal(c.unit, "ghost.service");
    assert.deepEqual(await runtime.stop(c, 10), { via: "api", wasRunning: true });
    assert.equal((await ps(GHOST))?.State, "exited");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal((await ps(GHOST))?.State, "exited", "the restart policy brought it back");
  });

  test("a Quadlet unit whose stop leaves the container running: PodmanRuntime.stop stops it through the API", async () => {
    // A systemd drop-in (Quadlet itself refuses KillMode=none) makes `systemctl stop` succeed
    // without reaching any process: no ExecStop, no signal. systemd marks the unit inactive and
    // logs "Unit process … (conmon) remains running after unit stopped".
    await node.mustUser(["sh", "-c", `cat >${NODE_QUADLET_DIR}/${STUBBORN_UNIT}`], {
      input: HANDMADE_QUADLET_UNIT,
    });
    await node.mustUser(["sh", "-c", `mkdir -p ${STUBBORN_DROPIN} && cat >${STUBBORN_DROPIN}/50-keep.conf`], {
      input: "[Service]\nExecStop=\nExecStopPost=\nKillMode=none\n",
    });
    await node.mustUser(["systemctl", "--user", "daemon-reload"]);
    await node.mustUser(["systemctl", "--user", "start", "stubborn.service"]);
    const c = await mustObserve(STUBBORN);
    assert.equal(c.unit, "stubborn.service");
    assert.equal(c.backend, "quadlet");

    const begun = runtimeLog.length;
    const outcome = await runtime.stop(c, 10);
    assert.deepEqual(outcome, { via: "api", wasRunning: true });
    await mustBeDown(STUBBORN);
    assert.equal(await activeState("stubborn.service"), "inactive");
    const said = runtimeLog.slice(begun).join("\n");
    assert.match(said, /systemctl --user stop stubborn\.service left systemd-stubborn running/);
  });
});

describe("systemd node: a reboot brings the units' containers back by themselves", { skip }, () => {
  test("after `podman restart` of the node: every unit's container runs again, stopped ones stay stopped", async (t) => {
    const quadlet = ["hello-web", "notes--cache", "notes-database", "notes--web", HANDMADE_QUADLET];
    const before = new Map<string, string>();
    for (const name of quadlet) before.set(name, (await mustRun(name)).Id);
    await mustRun(HANDMADE_PLAIN);

    const ms = await node.reboot();
    t.diagnostic(`reboot (podman restart + boot) in ${(ms / 1000).toFixed(1)} s`);
    await client.ping(10_000);

    for (const name of quadlet) {
      await waitFor(async () => (await ps(name))?.State === "running", { what: `${name} to run again` });
      const c = await mustObserve(name);
      assert.notEqual(c.id, before.get(name), `${name}: the same container, not started again at boot`);
      assert.equal(c.backend, "quadlet");
    }
    for (const [manifest, key, name] of [
      [hello, "web", "hello-web"],
      [notes, "web", "notes--web"],
      [notes, "db", "notes-database"],
    ] as const)
      assertManaged(await mustObserve(name), manifest, key, `${name}.service`);
    assert.match(await page(18080), /archipelago test image works/);
    await waitFor(
      async () =>
        (await node.exec(["curl", "-fsS", "--max-time", "3", "http://127.0.0.1:18081/"])).code === 0,
      { what: "notes--web to serve its page" },
    );
    // Stopped through the API before the reboot, run by no unit: still stopped.
    assert.equal((await ps(GHOST))?.State, "exited");
    // Stopped by the platform before the reboot: the stop drop-in keeps systemd from starting it.
    stubbornAfterReboot = (await ps(STUBBORN))?.State;
    t.diagnostic(
      `${STUBBORN} (a Quadlet unit the platform stopped) after the reboot: ${stubbornAfterReboot ?? "gone"}`,
    );
    // A plain container's restart policy is not applied at boot by rootless Podman 5.4 (only the
    // podman-restart.service user unit does that, for restart-policy=always, and it is not enabled):
    // bringing plain containers back is the daemon's job.
    const plain = await ps(HANDMADE_PLAIN);
    t.diagnostic(`${HANDMADE_PLAIN} (--restart=unless-stopped) after the reboot: ${plain?.State}`);
    assert.notEqual(plain?.State, "running");
    await runtime.start(await mustObserve(HANDMADE_PLAIN));
    await mustRun(HANDMADE_PLAIN);
  });

  test("a Quadlet container the platform stopped stays stopped across a reboot", () => {
    assert.ok(
      stubbornAfterReboot === undefined || stubbornAfterReboot === "exited",
      `${STUBBORN} is ${stubbornAfterReboot} after the reboot`,
    );
  });
});

describe("systemd node: PodmanRuntime.remove reaches containers of both styles", { skip }, () => {
  test("the hand-written Quadlet container and its unit file are removed", async () => {
    const c = await mustObserve(HANDMADE_QUADLET);
    await runtime.remove(c, 10);
    assert.equal(await ps(HANDMADE_QUADLET), undefined);
    assert.ok(!(await units.list()).includes(HANDMADE_UNIT), `${HANDMADE_UNIT} is still installed`);
    assert.equal((await systemd.state("handmade.service")).load, "not-found");
  });

  test("the plain container is removed", async () => {
    await runtime.remove(await mustObserve(HANDMADE_PLAIN), 10);
    assert.equal(await ps(HANDMADE_PLAIN), undefined);
    await runtime.remove(await mustObserve(GHOST), 10);
    assert.equal(await ps(GHOST), undefined);
    assert.equal(await observed(HANDMADE_PLAIN), undefined);
  });

  test("hello-web's data survives stop, remove (container, units, network, volume) and a new install", async (t) => {
    const web = await mustObserve("hello-web");
    const wrote = await runtime.exec(web, ["sh", "-c", "echo kept > /data/marker.txt"], 10_000);
    assert.equal(wrote.exitCode, 0, wrote.stderr);

    assert.equal((await runtime.stop(web, 15)).via, "systemd");
    await runtime.remove(web, 15);
    await runtime.removeAppResources(hello, ctx);
    const left = await units.list();
    for (const file of renderQuadlet(hello, ctx))
      assert.ok(!left.includes(file.path), `${file.path} is still installed`);
    assert.equal(await client.volumes.find("archy-hello-web_content"), undefined);
    assert.equal(await client.networks.find("archy-hello-web"), undefined);
    const onDisk = await node.mustUser(["cat", `${DATA_ROOT}/apps/hello-web/volumes/content/marker.txt`]);
    assert.equal(onDisk, "kept\n");

    t.diagnostic(await install(hello, "web"));
    const again = await mustObserve("hello-web");
    assertManaged(again, hello, "web", "hello-web.service");
    const read = await runtime.exec(again, ["cat", "/data/marker.txt"], 10_000);
    assert.equal(read.stdout, "kept\n");
  });

  test("after another reboot the removed unit stays gone and the reinstalled app is back", async (t) => {
    const ms = await node.reboot();
    t.diagnostic(`reboot in ${(ms / 1000).toFixed(1)} s`);
    await waitFor(async () => (await ps("hello-web"))?.State === "running", {
      what: "hello-web to run again",
    });
    assert.equal(await ps(HANDMADE_QUADLET), undefined);
    assert.equal(await ps(HANDMADE_PLAIN), undefined);
    assert.equal((await systemd.state("handmade.service")).load, "not-found");
    const web = await mustObserve("hello-web");
    assert.equal((await runtime.exec(web, ["cat", "/data/marker.txt"], 10_000)).stdout, "kept\n");
  });
});
