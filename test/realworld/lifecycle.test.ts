/**
 * Real programs from Debian packages through the whole lifecycle, as an operator drives it: the
 * apps of apps-real/ (PostgreSQL 15, the rw-notes Python page on it, Mosquitto 2) on images that
 * scripts/build-real-images builds (debootstrap, cached), installed by a real daemon (`archy
 * daemon` as the test user over a lab's Podman service) through `archy` command lines, and used for
 * real: SQL through the notes page, MQTT with the generated login. Then stop/start/restart, a daemon
 * restart (adoption), an update with a migration, uninstall and reinstall with the same secrets,
 * purge. Needs root (debootstrap), like the systemd node tests.
 */
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appDnsLabel } from "../../src/manifest/naming.ts";
import { PASSWORD } from "../api/support.ts";
import { call, loginThrough, nodeCa } from "../proxy/client.ts";
import { callApi } from "../proxy/node.ts";
import { archy, DaemonProcess, daemonConnected, labDaemonArgs, show } from "../support/daemon-process.ts";
import { eventually, Lab, type TestApp, type TestAppOptions } from "../support/driver.ts";
import { discardRun, type GateRun, podman, runGate, showRun } from "../support/gate-run.ts";
import { buildRealImages, REAL_APPS, realImagesSkip as skip } from "../support/real-images.ts";
import { runAsTestUser, testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";

describe("real Podman: real apps from Debian packages through the whole lifecycle", { skip }, () => {
  let lab: Lab;
  let daemon: DaemonProcess;
  let dataDir: string;
  let url: string;
  let env: Record<string, string>;
  let postgres: TestApp;
  let notes: TestApp;
  let mosquitto: TestApp;
  const cli = (args: string[]) => archy(args, env, 600_000);
  const copy = (name: string, options: TestAppOptions = {}) =>
    lab.app(name, { source: join(REAL_APPS, name), ownTimings: true, ...options });
  const page = () => `http://127.0.0.1:${notes.ports["web/8080"]}`;

  async function ok(args: string[]): Promise<string> {
    const run = await cli(args);
    assert.equal(run.code, 0, `archy ${args.join(" ")}\n${show(run)}\n--- daemon ---\n${daemon.output}`);
    return run.stdout;
  }

  async function startDaemon(): Promise<void> {
    daemon = new DaemonProcess(labDaemonArgs(lab, dataDir, url));
    await daemonConnected(url, daemon);
    env = { ARCHY_URL: url, ARCHY_TOKEN_FILE: join(dataDir, "state", "cli-token") };
  }

  /** The notes page's list, once it answers. */
  async function notesShown(): Promise<string> {
    return eventually(
      `the notes page at ${page()} answers 200`,
      async () => {
        const response = await fetch(`${page()}/`, { signal: AbortSignal.timeout(10_000) }).catch(
          (error: Error) => error.message,
        );
        if (typeof response === "string" || !response.ok) return false;
        return response.text();
      },
      120_000,
    );
  }

  async function addNote(text: string): Promise<void> {
    const response = await fetch(`${page()}/`, {
      method: "POST",
      body: new URLSearchParams({ text }),
      redirect: "manual",
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(
      response.status,
      303,
      `POST ${page()}/ answered ${response.status}: ${await response.text()}`,
    );
  }

  async function schema(): Promise<string> {
    const response = await fetch(`${page()}/schema`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(response.status, 200);
    return response.text();
  }

  /** Runs a Mosquitto client inside the broker's container, with the login given. */
  async function mqtt(client: "pub" | "sub", password: string, ...args: string[]) {
    const container = mosquitto.names.broker as string;
    return runAsTestUser(
      [
        "podman",
        "--url",
        `unix://${lab.service.socketPath}`,
        "exec",
        container,
        `mosquitto_${client}`,
        "-h",
        "127.0.0.1",
        "-u",
        "archy",
        "-P",
        password,
        "-t",
        "archy/real",
        ...args,
      ],
      { timeoutMs: 60_000 },
    );
  }

  const containerIds = async (app: TestApp) =>
    (await podman(["ps", "-a", "-q", "--no-trunc", "--filter", `label=io.archipelago.app=${app.id}`]))
      .split("\n")
      .filter(Boolean)
      .sort();

  before(async () => {
    await buildRealImages();
    lab = await Lab.create();
    postgres = await copy("rw-postgres");
    notes = await copy("rw-notes");
    mosquitto = await copy("rw-mosquitto");
    dataDir = join(lab.root, "daemon");
    mkdirSync(dataDir, { mode: 0o700 });
    if (process.getuid?.() === 0) chownSync(dataDir, testUser.uid, testUser.gid);
    url = `http://127.0.0.1:${await freePort()}`;
    await startDaemon();
  });

  after(async () => {
    for (const app of [notes, mosquitto, postgres])
      if (app) await archy(["uninstall", app.id, "--purge", "--force"], env, 300_000);
    await daemon?.stop();
    await lab?.close();
  });

  test("PostgreSQL, the notes page and Mosquitto install; rows written through the page are read back", async () => {
    await ok(["install", postgres.id]);
    await ok(["install", mosquitto.id]);
    await ok(["install", notes.id, "--approve", "all"]);
    assert.doesNotMatch(await notesShown(), /<li>/, "a new install has no notes");
    await addNote("first note");
    await addNote("second <note>");
    const shown = await notesShown();
    assert.match(shown, /<li>first note<\/li><li>second &lt;note&gt;<\/li>/);
    assert.equal(await schema(), "1-notes\n", "the install's job migrated to level 1");
  });

  test("the notes page opens through the node's proxy with an operator's session, and writes there", async () => {
    await callApi(url, "auth.setup", { password: PASSWORD });
    const port = Number(new URL(url).port);
    const host = `${appDnsLabel(notes.id)}.localhost`;
    const ca = nodeCa(dataDir);
    const login = await loginThrough(port, host, "/", PASSWORD, ca);
    const origin = `https://${host}:${port}`;
    const posted = await call(port, host, "/", {
      ca,
      method: "POST",
      headers: { cookie: login.app, origin, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ text: "through the proxy" }).toString(),
    });
    assert.equal(posted.status, 303, posted.text);
    const shown = await call(port, host, "/", { ca, headers: { cookie: login.app } });
    assert.equal(shown.status, 200, shown.text);
    assert.match(shown.text, /<li>second &lt;note&gt;<\/li><li>through the proxy<\/li>/);
  });

  test("Mosquitto takes the generated login and refuses another password; a retained message comes back", async () => {
    const [login] = JSON.parse(await ok(["credentials", mosquitto.id, "--json"])) as Array<{
      username: string;
      password: string;
    }>;
    assert.equal(login?.username, "archy");
    const password = login?.password as string;
    const wrong = await mqtt("pub", `${password}x`, "-m", "intruder");
    assert.notEqual(wrong.code, 0, "a wrong password is refused");
    const published = await mqtt("pub", password, "-r", "-q", "1", "-m", "hello from archy");
    assert.equal(published.code, 0, published.stderr);
    const received = await mqtt("sub", password, "-C", "1", "-W", "30");
    assert.equal(received.code, 0, received.stderr);
    assert.equal(received.stdout.trim(), "hello from archy");
  });

  test("stop, start and restart keep the rows and the broker's retained message", async () => {
    for (const verb of ["stop", "start", "restart"]) {
      await ok([verb, notes.id]);
      await ok([verb, postgres.id]);
      await ok([verb, mosquitto.id]);
      if (verb === "stop") {
        await ok(["start", postgres.id]);
        await ok(["start", notes.id]);
        await ok(["start", mosquitto.id]);
      }
      assert.match(await notesShown(), /<li>first note<\/li>/, `after ${verb}`);
    }
    const [login] = JSON.parse(await ok(["credentials", mosquitto.id, "--json"])) as Array<{
      password: string;
    }>;
    const received = await mqtt("sub", login?.password as string, "-C", "1", "-W", "30");
    assert.equal(received.stdout.trim(), "hello from archy", "the broker kept its retained message");
  });

  test("a daemon restart adopts the running containers: none is recreated", async () => {
    const before = [...(await containerIds(postgres)), ...(await containerIds(notes))];
    await daemon.stop();
    await startDaemon();
    assert.match(await ok(["status", notes.id]), /running/);
    assert.deepEqual([...(await containerIds(postgres)), ...(await containerIds(notes))], before);
    assert.match(await notesShown(), /<li>first note<\/li>/);
  });

  test("an update runs the new version's migration job and keeps the rows", async () => {
    notes = await copy("rw-notes", {
      version: "1.1.0",
      ports: notes.ports,
      env: { migrate: { SCHEMA_LEVEL: "2" } },
    });
    await ok(["update", notes.id]);
    assert.equal(await schema(), "1-notes\n2-created\n", "the update's job migrated to level 2");
    assert.match(
      await notesShown(),
      /<li>first note<\/li><li>second &lt;note&gt;<\/li><li>through the proxy<\/li>/,
    );
  });

  test("uninstall keeps the data and the secrets: a reinstall has the same passwords and the rows", async () => {
    const credentials = await ok(["credentials", postgres.id, "--json"]);
    await ok(["uninstall", notes.id]);
    await ok(["uninstall", postgres.id]);
    assert.deepEqual(await containerIds(postgres), [], "uninstall removed the containers");
    await ok(["install", postgres.id]);
    await ok(["install", notes.id, "--approve", "all"]);
    assert.equal(await ok(["credentials", postgres.id, "--json"]), credentials);
    // The cluster in the kept volume was initialised with the first password: the job's login
    // through the export works only with the same secret.
    assert.match(
      await notesShown(),
      /<li>first note<\/li><li>second &lt;note&gt;<\/li><li>through the proxy<\/li>/,
    );
  });

  test("purge leaves nothing: no container, volume, secret or data directory of the three apps", async () => {
    await ok(["uninstall", notes.id, "--purge"]);
    await ok(["uninstall", mosquitto.id, "--purge"]);
    await ok(["uninstall", postgres.id, "--purge"]);
    for (const app of [notes, mosquitto, postgres]) {
      assert.deepEqual(await containerIds(app), [], `${app.id}: containers`);
      const volumes = (await podman(["volume", "ls", "--format", "{{.Name}}"])).split("\n");
      assert.deepEqual(
        volumes.filter((v) => v.startsWith(`archy-${app.id}_`)),
        [],
        `${app.id}: volumes`,
      );
      const secrets = (await podman(["secret", "ls", "--format", "{{.Name}}"])).split("\n");
      assert.deepEqual(
        secrets.filter((s) => s.startsWith(`archy-${app.id}_`)),
        [],
        `${app.id}: Podman secrets`,
      );
      assert.equal(existsSync(join(dataDir, "apps", app.id)), false, `${app.id}: data directory`);
      assert.equal(existsSync(join(dataDir, "state", "secrets", app.id)), false, `${app.id}: secret files`);
    }
  });
});

describe("real Podman: archy gate over the real apps (1 iteration, with purge)", { skip }, () => {
  let run: GateRun;
  after(async () => {
    await discardRun(run);
  });

  test("every cell of rw-postgres, rw-notes and rw-mosquitto passed", { timeout: 1_800_000 }, async () => {
    await buildRealImages();
    run = await runGate(["--apps-dir", REAL_APPS, "--iterations", "1", "--destructive", "--keep"], 1_700_000);
    assert.ok(run.report, `a JSON report\n${showRun(run)}`);
    assert.deepEqual([...run.report.options.apps].sort(), ["rw-mosquitto", "rw-notes", "rw-postgres"]);
    const failures = run.report.cells
      .filter((c) => c.status === "fail")
      .map((c) => `${c.app} ${c.step}: ${c.reason} — ${c.evidence?.observed}`);
    assert.deepEqual(failures, [], showRun(run));
    assert.equal(run.report.aborted, undefined, run.report.aborted);
    assert.equal(run.code, 0, showRun(run));
  });
});
