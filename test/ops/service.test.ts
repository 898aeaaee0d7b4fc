/**
 * The daemon as a systemd user service (packaging/systemd/archipelago.service, installed by
 * scripts/install-service), proven in the systemd test node (systemd as PID 1, rootless Podman 5):
 * the unit verifies clean, the installer starts it for the node user with linger, the API answers on
 * the node's loopback, an app installed through it serves its UI, the app keeps running while the
 * service is stopped, and after a reboot of the node the service and the app are back by themselves.
 * On a host without systemd as PID 1 the installer changes nothing and says how to run the daemon.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { exec, shellJoin } from "../../src/system/exec.ts";
import { NODE_UID, NODE_USER, type SystemdNode, startNode } from "../support/systemd-node.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const isRoot = process.getuid?.() === 0;
const INSTALLER = fileURLToPath(new URL("../../scripts/install-service", import.meta.url));
const IN_NODE = "/root/archipelago";
const URL_IN_NODE = "http://127.0.0.1:7780";
const TOKEN = `/home/${NODE_USER}/.local/share/archipelago/state/cli-token`;
const APP_UI = "http://127.0.0.1:18080/";

describe("install-service without systemd as PID 1", {
  skip: !isRoot ? "needs root" : existsSync("/run/systemd/system") ? "systemd runs this machine" : false,
}, () => {
  test("changes nothing and prints how to run the daemon instead", async () => {
    const run = await exec(INSTALLER, []);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /systemd is not PID 1 on this machine .*Nothing was changed\./s);
    assert.match(run.stderr, /npm run demo/);
    assert.match(run.stderr, /bin\/archy daemon --listen 127\.0\.0\.1:7780/);
  });
});

describe("systemd node: the daemon as a systemd user service", {
  skip: isRoot ? false : "needs root (the node is a privileged container)",
}, () => {
  let node: SystemdNode;

  /** Runs a shell script as root in the node; throws unless it exits 0; resolves stdout. */
  async function sh(script: string, timeoutMs = 120_000): Promise<string> {
    const run = await node.exec(["bash", "-c", script], { timeoutMs });
    assert.equal(run.code, 0, `in node ${node.name}: ${script}\n${run.stdout}\n${run.stderr}`);
    return run.stdout;
  }

  const rpc = (method: string, params = "{}") =>
    sh(
      `curl -s -H "authorization: Bearer $(cat ${TOKEN})" -H 'content-type: application/json' ` +
        `-d '{"jsonrpc":"2.0","id":1,"method":"${method}","params":${params}}' ${URL_IN_NODE}/rpc/v1`,
    ).then((out) => JSON.parse(out) as { result?: unknown; error?: { message: string } });

  /** Polls `url` from inside the node until it answers 200; resolves the seconds it took. */
  const answers = (url: string, seconds = 90) =>
    sh(
      `for i in $(seq 1 ${seconds * 2}); do curl -sf -o /dev/null ${url} && { echo $((i / 2)); exit 0; }; sleep 0.5; done; echo "${url} does not answer" >&2; exit 1`,
      (seconds + 30) * 1000,
    );

  const unitState = async (verb: "is-active" | "is-enabled") =>
    (await node.execUser(["systemctl", "--user", verb, "archipelago.service"])).stdout.trim();

  before(
    async () => {
      node = await startNode();
      // The code with its pinned Node.js, as a fresh checkout after `npm ci` would have it. Tests
      // running beside this one hard-link the checkout (readable copies), which changes files'
      // ctime, not their content: tar's exit 1 ("file changed as we read it") is harmless here.
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
      // The sample web app, without its memory limit: the node's cgroup tree has no memory controller
      // (the host binds every controller to cgroup v1), so crun cannot set one there.
      await sh(
        `mkdir -p /srv/apps && cp -R ${IN_NODE}/apps/hello-web /srv/apps/ && sed -i '/^    memory: /d' /srv/apps/hello-web/manifest.yml && chmod -R a+rX /srv/apps`,
      );
    },
    { timeout: 900_000 },
  );
  after(async () => {
    await node?.destroy();
  });

  test("install-service installs, enables and starts it for the node user", {
    timeout: 300_000,
  }, async (t) => {
    const run = await node.exec(
      [`${IN_NODE}/scripts/install-service`, "--user", NODE_USER, "--apps-dir", "/srv/apps"],
      {
        timeoutMs: 240_000,
      },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /Archipelago runs as the systemd user service archipelago\.service of 'node'/);
    assert.ok(run.stderr.includes(`URL     ${URL_IN_NODE}`), run.stderr);

    const verify = await node.execUser([
      "systemd-analyze",
      "--user",
      "verify",
      `/home/${NODE_USER}/.config/systemd/user/archipelago.service`,
    ]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(`${verify.stdout}${verify.stderr}`.trim(), "", "systemd-analyze verify has remarks");

    assert.equal(await unitState("is-active"), "active");
    assert.equal(await unitState("is-enabled"), "enabled");
    const linger = await node.exec(["loginctl", "show-user", String(NODE_UID), "-P", "Linger"]);
    assert.equal(linger.stdout.trim(), "yes");
    const pid = (
      await node.mustUser(["systemctl", "--user", "show", "-P", "MainPID", "archipelago.service"])
    ).trim();
    const owner = await sh(`ps -o user= -p ${pid}`);
    assert.equal(owner.trim(), NODE_USER, "the daemon does not run as the node user");

    assert.equal((await sh(`curl -s ${URL_IN_NODE}/healthz`)).trim(), '{"ok":true}');
    const info = JSON.parse(
      await sh(
        `curl -s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"system.info","params":{}}' ${URL_IN_NODE}/rpc/v1`,
      ),
    ) as { result: { setUp: boolean; backend: string } };
    assert.equal(info.result.setUp, false);
    t.diagnostic(`system.info: ${JSON.stringify(info.result)}`);

    // Idempotent: a second run installs again and restarts the daemon.
    const again = await node.exec(
      [`${IN_NODE}/scripts/install-service`, "--user", NODE_USER, "--apps-dir", "/srv/apps"],
      {
        timeoutMs: 240_000,
      },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await sh(`curl -s ${URL_IN_NODE}/healthz`)).trim(), '{"ok":true}');
  });

  test("serves an app installed through it, which keeps running while the service is stopped", {
    timeout: 300_000,
  }, async (t) => {
    const install = await rpc("package.install", '{"id":"hello-web"}');
    assert.ok(install.result, JSON.stringify(install));
    t.diagnostic(`UI answers ${(await answers(APP_UI)).trim()} s after the install`);

    await node.mustUser(["systemctl", "--user", "stop", "archipelago.service"]);
    assert.equal(await unitState("is-active"), "inactive");
    const journal = await sh(
      `journalctl _SYSTEMD_USER_UNIT=archipelago.service _UID=${NODE_UID} -o cat --no-pager`,
    );
    assert.match(journal, /stopped; app containers keep running/);
    const ps = await node.mustUser([
      "podman",
      "ps",
      "--filter",
      "name=^hello-web$",
      "--format",
      "{{.State}}",
    ]);
    assert.equal(ps.trim(), "running", "the app's container stopped with the daemon");
    await answers(APP_UI, 5);

    await node.mustUser(["systemctl", "--user", "start", "archipelago.service"]);
    await answers(`${URL_IN_NODE}/healthz`, 60);
  });

  test("comes back at boot with the app", { timeout: 300_000 }, async (t) => {
    const ms = await node.reboot();
    t.diagnostic(`reboot in ${(ms / 1000).toFixed(1)} s`);
    t.diagnostic(`API answers ${(await answers(`${URL_IN_NODE}/healthz`)).trim()} s after the boot`);
    assert.equal(await unitState("is-active"), "active");
    t.diagnostic(`UI answers ${(await answers(APP_UI)).trim()} s after the API`);
    const list = await rpc("package.list");
    const [app] = list.result as { id: string; desired: string; containers: { state: string }[] }[];
    assert.equal(app?.id, "hello-web");
    assert.equal(app?.desired, "running");
  });

  test("--remove disables and removes the unit, and leaves the app running", {
    timeout: 120_000,
  }, async () => {
    const run = await node.exec([`${IN_NODE}/scripts/install-service`, "--remove", "--user", NODE_USER]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await unitState("is-enabled"), "not-found");
    const ps = await node.mustUser([
      "podman",
      "ps",
      "--filter",
      "name=^hello-web$",
      "--format",
      "{{.State}}",
    ]);
    assert.equal(ps.trim(), "running");
  });
});
