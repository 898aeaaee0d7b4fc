/**
 * The full lifecycle of every sample app through the orchestrator on the real rootless Podman:
 * install → running (its UI answers) → stop (checked with `podman inspect`) → start → restart (new
 * StartedAt, same container) → uninstall (containers gone, data and secrets kept) → install again
 * (the same data and secrets) → purge (data and secrets gone).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Driver, eventually, httpGet, Lab, sleep, type TestApp } from "../support/driver.ts";

/** What a test checks of one app besides its containers. */
type Probe = {
  app: TestApp;
  /** `<container>/<port>` of its UI, and a text its page contains. */
  ui?: { port: string; path?: string; contains: string };
  /** A file written inside a container onto an app volume, then found on the host. */
  data?: { container: string; inside: string; volume: string; file: string };
  /** How a container reads each generated secret: secret file name → [container, shell expression]. */
  secrets?: Record<string, [string, string]>;
};

let lab: Lab;
let driver: Driver;

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
});

after(async () => {
  await lab?.close();
});

async function waitOperation(accepted: { operationId: string }, timeoutMs = 60_000): Promise<void> {
  const record = await driver.operationDone(accepted.operationId, timeoutMs);
  assert.equal(
    record.operation?.state,
    "succeeded",
    `operation ${record.operation?.kind} failed: ${record.operation?.error}\n${driver.tail()}`,
  );
}

/** Runs `op` on every app (in the given order) and waits until each reaches `phase`. */
async function each(apps: Probe[], op: string, phase: string, fields: (p: Probe) => Record<string, unknown>) {
  for (const probe of apps) {
    const accepted = await driver.call<{ operationId: string }>(op, fields(probe));
    await driver.waitPhase(probe.app.id, phase, 90_000);
    await waitOperation(accepted);
  }
}

/** The app's containers as Podman sees them: exactly one per key, by key. */
async function containersOf(app: TestApp) {
  const all = [...(await lab.containers()).entries()].filter(([, c]) => c.app === app.id);
  const byKey = new Map<string, { name: string; id: string; state: string }>();
  for (const [name, c] of all) {
    assert.ok(c.key, `${name} has no container label`);
    assert.ok(
      !byKey.has(c.key),
      `two containers for ${app.id}/${c.key}: ${byKey.get(c.key)?.name} and ${name}`,
    );
    byKey.set(c.key, { name, id: c.id, state: c.state });
  }
  return byKey;
}

async function assertRunning(probe: Probe): Promise<Map<string, { id: string; startedAt: string }>> {
  const { app } = probe;
  const byKey = await containersOf(app);
  assert.deepEqual(
    [...byKey.keys()].sort(),
    Object.keys(app.names).sort(),
    `${app.id}: one container per key`,
  );
  const facts = new Map<string, { id: string; startedAt: string }>();
  for (const [key, c] of byKey) {
    const inspect = await lab.inspect(c.id);
    assert.equal(inspect?.running, true, `${c.name} runs (podman inspect)`);
    assert.equal(inspect?.name, app.names[key], `${app.id}/${key} has its manifest name`);
    facts.set(key, { id: c.id, startedAt: inspect?.startedAt as string });
  }
  if (probe.ui) {
    const ui = probe.ui;
    const port = app.ports[ui.port] as number;
    const page = await eventually(
      `${app.id}: its UI on 127.0.0.1:${port}${ui.path ?? "/"} shows '${ui.contains}'`,
      async () => {
        const response = await httpGet(port, ui.path);
        return response?.status === 200 && response.body.includes(ui.contains) ? response : undefined;
      },
      45_000,
      500,
    );
    assert.equal(page.status, 200);
  }
  return facts;
}

async function assertStopped(probe: Probe): Promise<void> {
  const byKey = await containersOf(probe.app);
  assert.equal(byKey.size, Object.keys(probe.app.names).length, `${probe.app.id}: its containers are kept`);
  for (const c of byKey.values()) {
    const inspect = await lab.inspect(c.id);
    assert.equal(inspect?.running, false, `${c.name} is stopped (podman inspect: ${inspect?.status})`);
  }
}

async function secretsSeen(probe: Probe): Promise<Record<string, string>> {
  const seen: Record<string, string> = {};
  for (const [name, [container, expression]] of Object.entries(probe.secrets ?? {}))
    seen[name] = await lab.exec(probe.app.names[container] as string, `printf %s "${expression}"`);
  return seen;
}

async function fullLifecycle(apps: Probe[]): Promise<void> {
  const reversed = [...apps].reverse();
  const token = `written-before-uninstall-${Date.now()}`;

  // install → running
  await each(apps, "install", "running", (p) => ({ path: p.app.dir }));
  const first = new Map<string, Map<string, { id: string; startedAt: string }>>();
  for (const probe of apps) first.set(probe.app.id, await assertRunning(probe));
  const secretFiles = new Map<string, Record<string, string>>();
  const secretValues = new Map<string, Record<string, string>>();
  for (const probe of apps) {
    if (probe.data) {
      const { container, inside, volume, file } = probe.data;
      await lab.exec(probe.app.names[container] as string, `echo ${token} > ${inside}/${file}`);
      assert.equal(await lab.readFile(`${lab.volumeDir(probe.app, volume)}/${file}`), `${token}\n`);
    }
    if (probe.secrets) {
      const files = await lab.secretFiles(probe.app);
      assert.deepEqual(Object.keys(files).sort(), Object.keys(probe.secrets).sort(), "one file per secret");
      for (const [name, value] of Object.entries(files))
        assert.ok(value.length >= 32, `${name} was generated`);
      const seen = await secretsSeen(probe);
      assert.deepEqual(seen, files, `${probe.app.id}: the containers see the generated secrets`);
      secretFiles.set(probe.app.id, files);
      secretValues.set(probe.app.id, seen);
    }
  }

  // stop → stopped (and it stays stopped over several resync passes)
  await each(reversed, "stop", "stopped", (p) => ({ app: p.app.id }));
  for (const probe of apps) await assertStopped(probe);
  await sleep(1_500);
  for (const probe of apps) {
    await assertStopped(probe);
    assert.equal((await driver.app(probe.app.id))?.phase, "stopped");
  }

  // start → running, the same containers
  await each(apps, "start", "running", (p) => ({ app: p.app.id }));
  for (const probe of apps) {
    const now = await assertRunning(probe);
    for (const [key, c] of now)
      assert.equal(c.id, first.get(probe.app.id)?.get(key)?.id, `${key}: not recreated`);
  }

  // restart → the same containers, started again (and only once each)
  const beforeRestart = new Map<string, Map<string, { id: string; startedAt: string }>>();
  for (const probe of apps) beforeRestart.set(probe.app.id, await assertRunning(probe));
  // At once, in the same second as the start: Podman lists StartedAt in whole seconds, and the
  // restart must still happen exactly once.
  for (const probe of apps) {
    const accepted = await driver.call<{ operationId: string }>("restart", { app: probe.app.id });
    await driver.waitPhase(probe.app.id, "running", 60_000);
    await waitOperation(accepted);
    const record = await driver.operation(accepted.operationId);
    const restarts = record.logs.filter((l) => l.message.startsWith("restarting "));
    assert.equal(
      restarts.length,
      Object.keys(probe.app.names).length,
      `each container restarted once:\n${record.logs.map((l) => l.message).join("\n")}`,
    );
  }
  for (const probe of apps) {
    const now = await assertRunning(probe);
    for (const [key, c] of now) {
      const was = beforeRestart.get(probe.app.id)?.get(key);
      assert.equal(c.id, was?.id, `${key}: restarted, not recreated`);
      assert.notEqual(c.startedAt, was?.startedAt, `${key}: started again (StartedAt changed)`);
    }
  }

  // uninstall → containers gone; data and secrets kept
  if (apps.length > 1) {
    const refused = await driver.send("uninstall", { app: apps[0]?.app.id });
    assert.equal(refused.ok, false, "a dependency cannot be uninstalled before its dependents");
    assert.equal(refused.code, "has-dependents");
  }
  await each(reversed, "uninstall", "removed", (p) => ({ app: p.app.id }));
  for (const probe of apps) {
    assert.equal((await containersOf(probe.app)).size, 0, `${probe.app.id}: no container left`);
    for (const name of Object.values(probe.app.names))
      assert.equal(await lab.inspect(name), undefined, `${name} is gone (podman inspect)`);
    assert.equal(await driver.app(probe.app.id), undefined, `${probe.app.id} is no longer listed`);
    if (probe.data)
      assert.equal(
        await lab.readFile(`${lab.volumeDir(probe.app, probe.data.volume)}/${probe.data.file}`),
        `${token}\n`,
        "uninstall keeps the data",
      );
    if (probe.secrets)
      assert.deepEqual(
        await lab.secretFiles(probe.app),
        secretFiles.get(probe.app.id),
        "uninstall keeps the secrets",
      );
  }

  // install again → the same data and secrets
  await each(apps, "install", "running", (p) => ({ path: p.app.dir }));
  for (const probe of apps) {
    const now = await assertRunning(probe);
    for (const [key, c] of now)
      assert.notEqual(c.id, first.get(probe.app.id)?.get(key)?.id, `${key}: a new container after uninstall`);
    if (probe.data) {
      const { container, inside, file } = probe.data;
      assert.equal(
        await lab.exec(probe.app.names[container] as string, `cat ${inside}/${file}`),
        `${token}\n`,
        `${probe.app.id}: the reinstalled app sees the data written before`,
      );
    }
    if (probe.secrets) {
      assert.deepEqual(
        await lab.secretFiles(probe.app),
        secretFiles.get(probe.app.id),
        "secret files unchanged",
      );
      assert.deepEqual(await secretsSeen(probe), secretValues.get(probe.app.id), "secret values unchanged");
    }
  }

  // purge → data and secrets gone
  await each(reversed, "uninstall", "removed", (p) => ({ app: p.app.id, purge: true }));
  const podmanSecrets = await lab.podmanSecrets();
  for (const probe of apps) {
    assert.equal((await containersOf(probe.app)).size, 0, `${probe.app.id}: no container left`);
    assert.equal(
      await lab.exists(lab.appDataDir(probe.app)),
      false,
      `${probe.app.id}: purge deletes the data`,
    );
    assert.equal(
      await lab.exists(lab.secretsDir(probe.app)),
      false,
      `${probe.app.id}: purge deletes the secrets`,
    );
    assert.deepEqual(
      podmanSecrets.filter((s) => s.startsWith(`archy-${probe.app.id}_`)),
      [],
      `${probe.app.id}: purge deletes its Podman secrets`,
    );
    const network = await lab.podman(["network", "ls", "--format", "{{.Name}}"]);
    assert.ok(
      !network.split("\n").includes(`archy-${probe.app.id}`),
      `${probe.app.id}: its network is removed`,
    );
  }
}

describe("real Podman: the lifecycle of every sample app through the orchestrator", () => {
  test("hello-web: install, stop, start, restart, uninstall, install again, purge", async () => {
    const app = await lab.app("hello-web");
    await fullLifecycle([
      {
        app,
        ui: { port: "web/8080", contains: "Installed by Archipelago's post-install hook" },
        data: { container: "web", inside: "/data", volume: "content", file: "marker.txt" },
      },
    ]);
  });

  test("notes (a three-container stack): install, stop, start, restart, uninstall, install again, purge", async () => {
    const app = await lab.app("notes");
    await fullLifecycle([
      {
        app,
        ui: { port: "web/80", contains: "database says: ok" },
        data: { container: "db", inside: "/var/lib/notes", volume: "db-data", file: "marker.txt" },
      },
    ]);
  });

  test("mini-node uninstalled with its data kept, then purged: data, secrets and Podman secrets go, nothing is left installed", async () => {
    const app = await lab.app("mini-node");
    await each([{ app }], "install", "running", (p) => ({ path: p.app.dir }));
    await each([{ app }], "uninstall", "removed", (p) => ({ app: p.app.id }));
    assert.equal(await lab.exists(lab.appDataDir(app)), true, "uninstall keeps the data");
    assert.equal(await lab.exists(lab.secretsDir(app)), true, "uninstall keeps the secrets");

    // The data only an explicit purge deletes, purged after the app has gone.
    const accepted = await driver.call<{ operationId: string; kind: string }>("purge-kept", {
      path: app.dir,
    });
    assert.equal(accepted.kind, "purge");
    await waitOperation(accepted);
    await eventually("the purged app to be forgotten", async () => {
      const listed = await driver.call<Array<{ id: string }>>("list", {});
      return !listed.some((a) => a.id === app.id);
    });
    assert.equal(await lab.exists(lab.appDataDir(app)), false, "the kept data is deleted");
    assert.equal(await lab.exists(lab.secretsDir(app)), false, "the kept secrets are deleted");
    assert.deepEqual(
      (await lab.podmanSecrets()).filter((s) => s.startsWith(`archy-${app.id}_`)),
      [],
      "its Podman secrets are deleted",
    );
  });

  test("mini-node and mini-explorer (a dependency pair): the whole lifecycle, in dependency order", async () => {
    const node = await lab.app("mini-node");
    const explorer = await lab.app("mini-explorer");
    await fullLifecycle([
      {
        app: node,
        data: { container: "node", inside: "/var/lib/mini-node", volume: "chain", file: "marker.txt" },
        secrets: { "rpc-password": ["node", "$RPC_PASSWORD"] },
      },
      {
        app: explorer,
        // The explorer fetched the node's RPC with the generated password over the node's network.
        ui: { port: "explorer/8080", path: "/node.json", contains: "regtest" },
        secrets: { "session-key": ["explorer", "$(cat /run/secrets/session-key)"] },
      },
    ]);
  });
});
