/**
 * The daemon with the Quadlet backend, on the systemd test node (Debian 13, systemd as PID 1,
 * rootless Podman 5.4 with Quadlet, a lingering user): installed as the node user's service by
 * scripts/install-service, driven through its API as an operator would, checked against what
 * systemd and Podman show in the node.
 *
 * `auto` picks Quadlet there and says why; with `--backend quadlet` (ARCHY_BACKEND) an app's
 * containers are Quadlet units (their `PODMAN_SYSTEMD_UNIT` label, their units active); a container
 * that exits on its own is started again by the daemon through its unit (units carry no
 * `Restart=`); a stop writes the drop-in that keeps the unit out of the boot, a reboot keeps the app
 * stopped, a start brings it back; containers a plain-Podman daemon made stay plain (handled
 * through the API) until a reinstall makes them units; a reboot brings the apps back by
 * themselves, dependencies first. Needs root (the node is a privileged container).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { STOPPED_DROP_IN } from "../../src/runtime/podman-runtime.ts";
import { exec, shellJoin } from "../../src/system/exec.ts";
import { NODE_QUADLET_DIR } from "../support/node-systemd.ts";
import { NODE_UID, NODE_USER, type SystemdNode, startNode } from "../support/systemd-node.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const isRoot = process.getuid?.() === 0;
const IN_NODE = "/root/archipelago";
const URL_IN_NODE = "http://127.0.0.1:7780";
const TOKEN = `/home/${NODE_USER}/.local/share/archipelago/state/cli-token`;
const HELLO_UI = "http://127.0.0.1:18080/";
const NOTES_UI = "http://127.0.0.1:18081/";
const GENERATED_WANTS = `/run/user/${NODE_UID}/systemd/generator/default.target.wants`;

type PsEntry = {
  Id: string;
  Names: string[];
  State: string;
  StartedAt: number;
  Labels: Record<string, string> | null;
};
type AppView = {
  id: string;
  phase: string;
  desired: string;
  reason: string | null;
  observedAt: number | null;
  containers: Array<{ key: string; containerId: string; state: string }>;
};

describe("systemd node: the daemon with the Quadlet backend", {
  skip: isRoot ? false : "needs root (the node is a privileged container)",
}, () => {
  let node: SystemdNode;

  async function sh(script: string, timeoutMs = 120_000): Promise<string> {
    const run = await node.exec(["bash", "-c", script], { timeoutMs });
    assert.equal(run.code, 0, `in node ${node.name}: ${script}\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
  }

  /** A JSON-RPC call from inside the node, with the CLI token; resolves the result or throws the error. */
  async function rpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
    const run = await node.exec(
      [
        "sh",
        "-c",
        `curl -s -H "authorization: Bearer $(cat ${TOKEN})" -H 'content-type: application/json' --data-binary @- ${URL_IN_NODE}/rpc/v1`,
      ],
      { input: body, timeoutMs: 60_000 },
    );
    const answer = JSON.parse(run.stdout || "{}") as { result?: T; error?: { message: string } };
    if (answer.result === undefined) throw new Error(`${method}: ${answer.error?.message ?? run.stderr}`);
    return answer.result;
  }

  async function waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined>,
    timeoutMs = 180_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline)
        assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}; last: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The app in `phase` as the daemon says (and, for `running`, observed since `since`). */
  const phase = (id: string, wanted: string, since = 0) =>
    waitFor(`${id} is ${wanted}`, async () => {
      const app = await rpc<AppView>("package.get", { id });
      return app.phase === wanted && (app.observedAt ?? 0) >= since ? app : undefined;
    });

  const systemInfo = () =>
    waitFor("the daemon is connected to Podman", async () => {
      const run = await node.exec([
        "curl",
        "-s",
        "-H",
        "content-type: application/json",
        "-d",
        '{"jsonrpc":"2.0","id":1,"method":"system.info","params":{}}',
        `${URL_IN_NODE}/rpc/v1`,
      ]);
      const info = (JSON.parse(run.stdout || "{}") as { result?: { backend: string; backendReason: string } })
        .result;
      return info && info.backend !== "connecting to Podman" ? info : undefined;
    });

  /** The node user's containers of an app, from the Podman CLI in the node. */
  async function containers(appId: string): Promise<PsEntry[]> {
    const out = await node.mustUser([
      "podman",
      "ps",
      "-a",
      "--filter",
      `label=io.archipelago.app=${appId}`,
      "--format",
      "json",
    ]);
    return JSON.parse(out) as PsEntry[];
  }

  const unitActive = async (unit: string) =>
    (await node.execUser(["systemctl", "--user", "is-active", unit])).stdout.trim();
  const exists = async (path: string) => (await node.exec(["test", "-e", path])).code === 0;
  const answers = (url: string) =>
    waitFor(`${url} answers`, async () =>
      (await node.exec(["curl", "-fsS", "-m", "3", url])).code === 0 ? true : undefined,
    );

  async function installService(backend?: string): Promise<void> {
    const run = await node.exec(
      [
        `${IN_NODE}/scripts/install-service`,
        "--user",
        NODE_USER,
        "--apps-dir",
        "/srv/apps",
        ...(backend ? ["--backend", backend] : []),
      ],
      { timeoutMs: 240_000 },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  }

  before(
    async () => {
      node = await startNode();
      const parts = [
        "package.json",
        "bin",
        "src",
        "schema",
        "docs",
        "apps",
        "packaging",
        "scripts",
        "node_modules",
      ];
      const copy = await exec(
        "bash",
        [
          "-c",
          `set -o pipefail; { tar --warning=no-file-changed -C ${shellJoin([root])} -cf - ${shellJoin(parts)} || [ $? -eq 1 ]; } | podman exec -i ${node.name} sh -c 'mkdir -p ${IN_NODE} && tar -C ${IN_NODE} -xf -'`,
        ],
        { timeoutMs: 300_000 },
      );
      assert.equal(copy.code, 0, copy.stderr);
      // The node's cgroup tree has no memory controller: the samples run without their limits.
      await sh(
        `mkdir -p /srv/apps && cp -R ${IN_NODE}/apps/hello-web ${IN_NODE}/apps/notes /srv/apps/ && sed -i '/^ *memory: /d' /srv/apps/*/manifest.yml && chmod -R a+rX /srv/apps`,
      );
    },
    { timeout: 900_000 },
  );
  after(async () => {
    await node?.destroy();
  });

  test("auto picks Quadlet there, and says why in system.info and the log", {
    timeout: 300_000,
  }, async (t) => {
    await installService();
    const info = await systemInfo();
    t.diagnostic(`system.info: ${JSON.stringify(info)}`);
    assert.equal(info.backend, "quadlet");
    assert.match(
      info.backendReason,
      /^Quadlet, chosen by auto: Podman 5\.\d+\.\d+, node's systemd running with linger, generator \/usr\/lib\/systemd\/user-generators\/podman-user-generator$/,
    );
    const journal = await sh(
      `journalctl _SYSTEMD_USER_UNIT=archipelago.service _UID=${NODE_UID} -o cat --no-pager`,
    );
    assert.match(journal, /creating new containers with Quadlet, chosen by auto/);
  });

  test("--backend quadlet: an installed app's container is a Quadlet unit of the node user", {
    timeout: 300_000,
  }, async () => {
    await installService("quadlet");
    const info = await systemInfo();
    assert.equal(info.backend, "quadlet");
    assert.match(info.backendReason, /^Quadlet, as configured \(ARCHY_BACKEND=quadlet\)/);

    await rpc("package.install", { id: "hello-web" });
    const app = await phase("hello-web", "running");
    const [web, ...others] = await containers("hello-web");
    assert.equal(others.length, 0);
    assert.equal(web?.State, "running");
    assert.equal(web?.Labels?.PODMAN_SYSTEMD_UNIT, "hello-web.service");
    assert.equal(app.containers[0]?.containerId, web?.Id, "the daemon shows Podman's container");
    assert.equal(await unitActive("hello-web.service"), "active");
    assert.ok(await exists(`${NODE_QUADLET_DIR}/hello-web.container`));
    assert.equal(await exists(`${NODE_QUADLET_DIR}/hello-web.container.d/${STOPPED_DROP_IN}`), false);
    // The daemon owns restart decisions: the unit never restarts the container by itself.
    const restart = await node.mustUser([
      "systemctl",
      "--user",
      "show",
      "-P",
      "Restart",
      "hello-web.service",
    ]);
    assert.equal(restart.trim(), "no");
    await answers(HELLO_UI);
  });

  test("a container that exits on its own is started again by the daemon, through its unit", {
    timeout: 300_000,
  }, async () => {
    const [before] = await containers("hello-web");
    assert.ok(before);
    await node.mustUser(["podman", "kill", "hello-web"]);
    const again = await waitFor("hello-web runs again from its unit", async () => {
      const [now] = await containers("hello-web");
      return now && now.Id !== before.Id && now.State === "running" ? now : undefined;
    });
    assert.equal(again.Labels?.PODMAN_SYSTEMD_UNIT, "hello-web.service");
    assert.equal(await unitActive("hello-web.service"), "active");
    const journal = await sh(
      `journalctl _SYSTEMD_USER_UNIT=archipelago.service _UID=${NODE_UID} -o cat --no-pager`,
    );
    if (!/hello-web: web exited on its own \(exit code 137\): starting it again/.test(journal)) {
      // What the daemon thought of the app when it started the container again without saying why.
      const app = await rpc<AppView>("package.get", { id: "hello-web" });
      assert.fail(
        `the daemon started hello-web again without saying it exited on its own; the app now: ${JSON.stringify(app)}; its journal:\n${journal.split("\n").slice(-25).join("\n")}`,
      );
    }
    await phase("hello-web", "running");
    await answers(HELLO_UI);
  });

  test("stop: the unit is inactive, no container is left, and the stop drop-in is written", {
    timeout: 300_000,
  }, async () => {
    await rpc("package.stop", { id: "hello-web" });
    await phase("hello-web", "stopped");
    assert.deepEqual(await containers("hello-web"), []);
    assert.equal(await unitActive("hello-web.service"), "inactive");
    const dropIn = await sh(`cat ${NODE_QUADLET_DIR}/hello-web.container.d/${STOPPED_DROP_IN}`);
    assert.match(dropIn, /^\[Install\]\nWantedBy=\n/m);
    assert.equal(await exists(`${GENERATED_WANTS}/hello-web.service`), false, "still wanted at boot");
  });

  test("a reboot keeps the stopped app stopped; start brings it back into the boot", {
    timeout: 300_000,
  }, async (t) => {
    const ms = await node.reboot();
    t.diagnostic(`reboot in ${(ms / 1000).toFixed(1)} s`);
    const booted = Date.now();
    await systemInfo();
    const app = await phase("hello-web", "stopped", booted);
    assert.equal(app.desired, "stopped");
    assert.deepEqual(await containers("hello-web"), [], "a container runs after the reboot");
    assert.equal(await unitActive("hello-web.service"), "inactive");
    assert.equal(await exists(`${GENERATED_WANTS}/hello-web.service`), false);

    await rpc("package.start", { id: "hello-web" });
    await phase("hello-web", "running");
    const [web] = await containers("hello-web");
    assert.equal(web?.State, "running");
    assert.equal(web?.Labels?.PODMAN_SYSTEMD_UNIT, "hello-web.service");
    assert.equal(await exists(`${NODE_QUADLET_DIR}/hello-web.container.d/${STOPPED_DROP_IN}`), false);
    assert.equal(await exists(`${GENERATED_WANTS}/hello-web.service`), true, "not wanted at boot again");
    await answers(HELLO_UI);
  });

  test("containers a plain-Podman daemon made stay plain under Quadlet, until a reinstall makes them units", {
    timeout: 600_000,
  }, async () => {
    await installService("podman");
    assert.equal((await systemInfo()).backend, "podman");
    await rpc("package.install", { id: "notes" });
    await phase("notes", "running");
    const plain = await containers("notes");
    assert.equal(plain.length, 3);
    for (const c of plain)
      assert.equal(c.Labels?.PODMAN_SYSTEMD_UNIT, undefined, `${c.Names[0]} is a unit's`);

    await installService("quadlet");
    assert.equal((await systemInfo()).backend, "quadlet");
    await phase("notes", "running", Date.now());
    const kept = await containers("notes");
    assert.deepEqual(kept.map((c) => c.Id).sort(), plain.map((c) => c.Id).sort(), "recreated by the switch");
    // Stopped and started through the API, as their labels say; still the same containers.
    await rpc("package.stop", { id: "notes" });
    await phase("notes", "stopped");
    for (const c of await containers("notes")) assert.equal(c.State, "exited", c.Names[0]);
    await rpc("package.start", { id: "notes" });
    await phase("notes", "running");
    assert.deepEqual((await containers("notes")).map((c) => c.Id).sort(), plain.map((c) => c.Id).sort());

    // A reinstall recreates the app as a whole: as Quadlet units now, data kept.
    await rpc("package.reinstall", { id: "notes" });
    const units = await waitFor("notes runs as Quadlet units", async () => {
      const now = await containers("notes");
      return now.length === 3 && now.every((c) => c.State === "running" && c.Labels?.PODMAN_SYSTEMD_UNIT)
        ? now
        : undefined;
    });
    await phase("notes", "running");
    for (const c of units) {
      const name = c.Names[0] as string;
      assert.equal(c.Labels?.PODMAN_SYSTEMD_UNIT, `${name}.service`);
      assert.equal(await unitActive(`${name}.service`), "active", name);
    }
    await answers(NOTES_UI);
  });

  test("a reboot brings every app back by itself, dependencies first", { timeout: 300_000 }, async (t) => {
    const before = new Map((await containers("notes")).map((c) => [c.Names[0], c.Id]));
    const ms = await node.reboot();
    t.diagnostic(`reboot in ${(ms / 1000).toFixed(1)} s`);
    const booted = Date.now();
    await answers(HELLO_UI);
    await answers(NOTES_UI);
    await phase("hello-web", "running", booted);
    await phase("notes", "running", booted);
    const notes = await containers("notes");
    const started = (name: string) => {
      const c = notes.find((x) => x.Names[0] === name);
      assert.ok(c && c.State === "running", `${name} is not running`);
      assert.notEqual(c.Id, before.get(name), `${name}: not started again at boot`);
      return c.StartedAt;
    };
    // notes--web requires the database healthy and the cache started (its unit's Requires=/After=).
    assert.ok(started("notes-database") <= started("notes--web"));
    assert.ok(started("notes--cache") <= started("notes--web"));
    // Wanted by default.target: systemd starts them at boot, whether or not the daemon is up.
    for (const name of ["hello-web", "notes--web", "notes-database", "notes--cache"])
      assert.equal(await exists(`${GENERATED_WANTS}/${name}.service`), true, name);
  });
});
