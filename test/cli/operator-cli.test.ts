/**
 * The operator CLI end to end: a real daemon (`archy daemon`) runs as the unprivileged test user on a
 * free loopback port, over a Podman service of the test's own, offering test copies of the sample
 * apps (unique ids, free host ports); every step is an `archy …` command line, checked by its exit
 * code, its output and what Podman says.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { ARCHY, archy, DaemonProcess, labDaemonArgs, show } from "../support/daemon-process.ts";
import { eventually, httpGet, Lab, sleep, type TestApp } from "../support/driver.ts";
import { runAsTestUser, testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { recordEventStream, ScanRecorder } from "../support/secret-scan.ts";
import { stageForTestUser } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const MARKER = "operator-cli marker";

/** Adds an echo of MARKER (to stdout) before the container's command, so its logs have a known line. */
function addMarker(app: TestApp, key: string): void {
  const path = join(app.dir, "manifest.yml");
  const doc = parseDocument(readFileSync(path, "utf8"));
  const command = (doc.get("containers") as YAMLMap).getIn([key, "command"]) as YAMLSeq;
  const first = String((command.items[0] as { value: unknown }).value ?? command.items[0]);
  command.items[0] = doc.createNode(`echo "${MARKER} $GREETING" && ${first}`);
  writeFileSync(path, doc.toString(), { mode: 0o644 });
}

/** Makes a container print the value of a variable (a secret) as it starts. */
function printAtStart(app: TestApp, key: string, variable: string): void {
  const path = join(app.dir, "manifest.yml");
  const doc = parseDocument(readFileSync(path, "utf8"));
  const command = (doc.get("containers") as YAMLMap).getIn([key, "command"]) as YAMLSeq;
  const first = String((command.items[0] as { value: unknown }).value ?? command.items[0]);
  command.items[0] = doc.createNode(`echo "my ${variable}: $${variable}" && ${first}`);
  writeFileSync(path, doc.toString(), { mode: 0o644 });
}

describe("real Podman: the operator CLI drives a daemon through a full lifecycle", () => {
  let lab: Lab;
  let daemon: DaemonProcess;
  let dataDir: string;
  let url: string;
  /** Where hello-web opens: its host under the node's name (localhost) on the daemon's port. */
  const appUrl = () => `https://${hello.id}.localhost:${new URL(url).port}/`;
  let tokenFile: string;
  let hello: TestApp;
  let node: TestApp;
  let explorer: TestApp;
  let env: Record<string, string>;
  const cli = (args: string[], timeoutMs?: number) => archy(args, env, timeoutMs);
  const helloName = () => hello.names.web as string;
  let daemonArgs: string[];
  let scan: ScanRecorder;

  /** Starts the daemon and waits until it answers and is connected to Podman. */
  async function startDaemon(): Promise<DaemonProcess> {
    const started = new DaemonProcess(daemonArgs, scan);
    await eventually(
      "the daemon answers and is connected to Podman",
      async () => {
        const response = await fetch(`${url}/rpc/v1`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
          signal: AbortSignal.timeout(2_000),
        });
        const body = (await response.json()) as { result?: { backend: string } };
        return body.result && body.result.backend !== "connecting to Podman";
      },
      60_000,
    ).catch(async (error) => {
      await started.stop();
      throw new Error(`${(error as Error).message}\n--- daemon ---\n${started.output}`);
    });
    const state = join(dataDir, "state");
    started.events = recordEventStream(
      url,
      readFileSync(join(state, "cli-token"), "utf8").trim(),
      scan,
      (e) => {
        if (e.type === "app" && e.phase === "running" && e.appId)
          lab.recordPodmanEnv(e.appId, join(state, "store.db"), scan);
      },
    );
    await started.events.opened;
    return started;
  }

  before(async () => {
    lab = await Lab.create();
    hello = await lab.app("hello-web");
    addMarker(hello, "web");
    node = await lab.app("mini-node");
    printAtStart(node, "node", "RPC_PASSWORD");
    explorer = await lab.app("mini-explorer");
    dataDir = join(lab.root, "daemon");
    mkdirSync(dataDir, { mode: 0o700 });
    if (isRoot) chownSync(dataDir, testUser.uid, testUser.gid);
    scan = new ScanRecorder("cli-daemon", lab.prefix, {
      secretsRoot: join(dataDir, "state", "secrets"),
      cliTokenFile: join(dataDir, "state", "cli-token"),
    });
    url = `http://127.0.0.1:${await freePort()}`;
    daemonArgs = labDaemonArgs(lab, dataDir, url);
    daemon = await startDaemon();
    tokenFile = join(dataDir, "state", "cli-token");
    env = { ARCHY_URL: url, ARCHY_TOKEN_FILE: tokenFile };
  });

  after(async () => {
    await daemon?.stop();
    if (scan) {
      scan.storeRecords(join(dataDir, "state", "store.db"));
      scan.harvest();
    }
    await lab?.close();
    scan?.close();
  });

  test("install shows the operation's progress live and ends with the app's URL, which answers", async () => {
    const run = await cli(["install", hello.id]);
    assert.equal(run.code, 0, show(run));
    const lines = run.stdout.split("\n");
    assert.match(lines[0] ?? "", new RegExp(`^${hello.id}: install accepted \\(operation op-`), show(run));
    assert.ok(
      lines.some((l) => l.startsWith("  creating ")),
      `the operation's log lines are shown\n${show(run)}`,
    );
    assert.ok(lines.includes("  phase: running"), `phase changes are shown\n${show(run)}`);
    const port = hello.ports["web/8080"] as number;
    assert.match(run.stdout, new RegExp(`done in .*: ${hello.id} \\S+ is installed and running`), show(run));
    // The app's address is its host under the node's name, on the daemon's port (docs/app-access.md).
    assert.ok(lines.includes(`open ${appUrl()}`), `the URL ends the output\n${show(run)}`);
    const page = await eventually("the app's UI answers", async () => {
      const answer = await httpGet(port);
      return answer?.status === 200 ? answer : undefined;
    });
    assert.match(page.body, /<html|<!doctype/i);
  });

  test("ls --json prints the API result; ls prints a table with phase, containers, age and URL", async () => {
    const json = await cli(["ls", "--json"]);
    assert.equal(json.code, 0, show(json));
    const apps = JSON.parse(json.stdout) as Array<{
      id: string;
      phase: string;
      desired: string;
      containers: Array<{ state: string }>;
      observedAgeMs: number | null;
      interfaces: Array<{ url: string | null }>;
    }>;
    const app = apps.find((a) => a.id === hello.id);
    assert.ok(app, show(json));
    assert.equal(app.phase, "running");
    assert.equal(app.desired, "running");
    assert.deepEqual(
      app.containers.map((c) => c.state),
      ["running"],
    );
    assert.equal(typeof app.observedAgeMs, "number");
    assert.equal(app.interfaces[0]?.url, appUrl());

    const table = await cli(["ls"]);
    assert.equal(table.code, 0, show(table));
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^APP\s+VERSION\s+PHASE\s+DESIRED\s+CONTAINERS\s+OBSERVED\s+SOURCE\s+URL$/);
    const row = rows.find((r) => r.startsWith(`${hello.id} `));
    assert.ok(row, show(table));
    assert.match(row, /\srunning\s+running\s+1\/1\s+\S+ ago\s+local\s+https:\/\//);
    assert.ok(row.endsWith(` ${appUrl()}`), row);
  });

  test("status shows containers, health, URL and (--json) the API result", async () => {
    const run = await cli(["status", hello.id]);
    assert.equal(run.code, 0, show(run));
    assert.match(run.stdout, /^ {2}phase: {5}running$/m, show(run));
    assert.match(run.stdout, new RegExp(`^ {2}url: {7}${appUrl().replaceAll(".", "\\.")}$`, "m"));
    assert.match(run.stdout, /^containers:$/m);
    assert.match(
      run.stdout,
      new RegExp(`^ {2}web\\s+${helloName()}\\s+running\\s+(healthy|starting|unknown)\\s`, "m"),
    );
    const json = await cli(["status", hello.id, "--json"]);
    assert.equal(json.code, 0, show(json));
    const app = JSON.parse(json.stdout) as {
      id: string;
      containers: unknown[];
      operations?: Array<{ kind: string }>;
    };
    assert.equal(app.id, hello.id);
    assert.equal(app.containers.length, 1);
    // Recent operations need the daemon's operation.list; when it has it, the install is there.
    if (app.operations) {
      assert.ok(
        app.operations.some((o) => o.kind === "install"),
        show(json),
      );
      assert.match(run.stdout, /^recent operations:$/m);
    }
  });

  test("stop: the container is stopped (podman inspect); start and restart bring it back", async () => {
    const stop = await cli(["stop", hello.id]);
    assert.equal(stop.code, 0, show(stop));
    assert.match(stop.stdout, new RegExp(`done in .*: ${hello.id} is stopped$`, "m"), show(stop));
    const stopped = await lab.inspect(helloName());
    assert.equal(stopped?.running, false, "podman inspect: not running after stop");

    const start = await cli(["start", hello.id]);
    assert.equal(start.code, 0, show(start));
    assert.match(start.stdout, new RegExp(`${hello.id} is running`), show(start));
    const started = await lab.inspect(helloName());
    assert.equal(started?.running, true, "podman inspect: running after start");
    assert.equal(started?.id, stopped?.id, "the same container");

    const restart = await cli(["restart", hello.id]);
    assert.equal(restart.code, 0, show(restart));
    assert.match(restart.stdout, new RegExp(`${hello.id} restarted and is running`), show(restart));
    const restarted = await lab.inspect(helloName());
    assert.equal(restarted?.running, true);
    assert.equal(restarted?.id, started?.id, "restart keeps the container");
    assert.notEqual(restarted?.startedAt, started?.startedAt, "restart started it again");
  });

  test("logs prints the container's output; --tail limits it; -f follows new lines exactly once", async () => {
    const all = await cli(["logs", hello.id]);
    assert.equal(all.code, 0, show(all));
    const markers = all.stdout.split("\n").filter((l) => l.startsWith(MARKER));
    assert.equal(markers.length, 3, `one marker per start (install, start, restart)\n${show(all)}`);
    assert.equal(markers[0], `${MARKER} Hello from Archipelago`);

    const one = await cli(["logs", hello.id, "--tail", "1", "--container", "web"]);
    assert.equal(one.code, 0, show(one));
    assert.equal(one.stdout.split("\n").filter(Boolean).length, 1, show(one));

    const follower = spawn(ARCHY, ["logs", hello.id, "-f", "--tail", "1"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let followed = "";
    follower.stdout.on("data", (chunk: Buffer) => {
      followed += chunk.toString();
    });
    follower.stderr.on("data", () => {});
    try {
      await eventually("the follower prints the last line", async () => followed.includes(MARKER));
      const restart = await cli(["restart", hello.id]);
      assert.equal(restart.code, 0, show(restart));
      await eventually(
        "the follower prints the line of the new start",
        async () => followed.split("\n").filter((l) => l.startsWith(MARKER)).length >= 2,
        20_000,
      );
      await sleep(2_500); // two more polls: nothing is printed twice
      assert.equal(followed.split("\n").filter((l) => l.startsWith(MARKER)).length, 2, followed);
    } finally {
      follower.kill("SIGTERM");
    }
  });

  test("update refuses a version that is not newer (the hint names --force); --force reapplies; retry", async () => {
    const refused = await cli(["update", hello.id]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /is not newer than the installed/, show(refused));
    assert.match(refused.stderr, new RegExp(`^ {2}hint: .*\`archy update ${hello.id} --force\``, "m"));
    const forced = await cli(["update", hello.id, "--force"]);
    assert.equal(forced.code, 0, show(forced));
    assert.match(forced.stdout, new RegExp(`${hello.id} is updated to \\S+ and running`), show(forced));
    const retry = await cli(["retry", hello.id]);
    assert.equal(retry.code, 0, show(retry));
    assert.match(retry.stdout, new RegExp(`${hello.id} is running`), show(retry));
    const noWait = await cli(["restart", hello.id, "--no-wait"]);
    assert.equal(noWait.code, 0, show(noWait));
    assert.match(noWait.stdout, /restart accepted \(operation op-[0-9a-f-]+\)\nnot waiting/, show(noWait));
    await eventually("the restart finishes", async () => {
      const app = JSON.parse((await cli(["status", hello.id, "--json"])).stdout) as { phase: string };
      return app.phase === "running";
    });
  });

  test("dependency errors name the missing dependency, the dependents and the operation in flight", async () => {
    const missing = await cli(["install", explorer.id]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, new RegExp(`^archy: ${explorer.id} needs ${node.id}`), show(missing));
    assert.match(
      missing.stderr,
      new RegExp(`^ {2}hint: missing: ${node.id}; install first: archy install ${node.id}$`, "m"),
    );

    // mini-node asks for a host directory, a device and a capability: nothing runs until approved.
    const unapproved = await cli(["install", node.id]);
    assert.equal(unapproved.code, 1, show(unapproved));
    assert.match(unapproved.stderr, new RegExp(`^archy: ${node.id} asks for these 3 permissions:$`, "m"));
    assert.match(unapproved.stderr, /^ {2}hwrng {6}use the host device /m, show(unapproved));
    assert.match(unapproved.stderr, /^ {2}mlock {6}hold the elevated Linux capability IPC_LOCK$/m);
    assert.match(
      unapproved.stderr,
      /^ {2}hint: approve them: `archy install \S+ --approve bootstrap,hwrng,mlock`/m,
    );
    const listed = JSON.parse((await cli(["ls", "--json"])).stdout) as Array<{ id: string }>;
    assert.ok(!listed.some((a) => a.id === node.id), "nothing was installed");

    const install = await cli(["install", node.id, "--approve", "all"]);
    assert.equal(install.code, 0, show(install));
    const stop = await cli(["stop", node.id]);
    assert.equal(stop.code, 0, show(stop));

    // The explorer waits for its dependency to be healthy: the install does not finish.
    const waiting = await cli(["install", explorer.id, "--timeout", "3"]);
    assert.equal(waiting.code, 1, show(waiting));
    assert.match(waiting.stdout, /^ {2}phase: waiting \(.*mini-node/m, show(waiting));
    assert.match(
      waiting.stderr,
      /^archy: still \w+ after the --timeout; it goes on in the daemon$/m,
      show(waiting),
    );

    const busy = await cli(["restart", explorer.id]);
    assert.equal(busy.code, 1, show(busy));
    assert.match(busy.stderr, new RegExp(`^archy: ${explorer.id} has an? install in progress`), show(busy));
    assert.match(busy.stderr, /^ {2}hint: in progress: install op-[0-9a-f-]+; wait for it/m, show(busy));

    const needed = await cli(["uninstall", node.id]);
    assert.equal(needed.code, 1, show(needed));
    assert.match(
      needed.stderr,
      new RegExp(
        `^ {2}hint: needed by: ${explorer.id}; uninstall first: archy uninstall ${explorer.id}$`,
        "m",
      ),
    );

    // Stop always gets through: it supersedes the install that waits.
    const stopExplorer = await cli(["stop", explorer.id]);
    assert.equal(stopExplorer.code, 0, show(stopExplorer));
    assert.match(stopExplorer.stdout, /it supersedes op-/, show(stopExplorer));
    const uninstall = await cli(["uninstall", explorer.id]);
    assert.equal(uninstall.code, 0, show(uninstall));
  });

  test("a lifecycle command keeps following its operation through a daemon restart", async () => {
    // The dependency is stopped: the explorer's install waits for it, across the restart.
    const follower = spawn(ARCHY, ["install", explorer.id], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    follower.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    follower.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => follower.once("exit", (code) => resolve(code)));
    try {
      await eventually(
        "the install waits for its dependency",
        async () => /phase: waiting/.test(stdout),
        30_000,
      );
      await daemon.stop();
      await eventually("the follower notices", async () => stderr.includes("lost the daemon"));
      daemon = await startDaemon();
      await eventually("the follower is back", async () => stderr.includes("the daemon is back"));
      const start = await cli(["start", node.id]);
      assert.equal(start.code, 0, show(start));
      const code = await Promise.race([exited, sleep(90_000).then(() => "timeout")]);
      const run = { code: typeof code === "number" ? code : -1, stdout, stderr };
      assert.equal(run.code, 0, show(run));
      assert.match(stdout, new RegExp(`done in .*: ${explorer.id} \\S+ is installed and running`), show(run));
    } finally {
      follower.kill("SIGTERM");
    }
    const uninstall = await cli(["uninstall", explorer.id]);
    assert.equal(uninstall.code, 0, show(uninstall));
  });

  test("registry login reads the password from stdin; ls shows host and user, never the password; logout forgets", async () => {
    const password = "a-registry-password-0123456789";
    const login = await archy(
      ["registry", "login", "127.0.0.1:5000", "--username", "ops"],
      env,
      undefined,
      `${password}\n`,
    );
    assert.equal(login.code, 0, show(login));
    assert.ok(!login.stdout.includes(password) && !login.stderr.includes(password), show(login));
    const ls = await cli(["registry", "ls"]);
    assert.equal(ls.code, 0, show(ls));
    assert.match(ls.stdout, /^REGISTRY\s+USER\n127\.0\.0\.1:5000\s+ops\n$/);
    assert.deepEqual(JSON.parse((await cli(["registry", "ls", "--json"])).stdout), [
      { host: "127.0.0.1:5000", username: "ops" },
    ]);
    const bad = await archy(
      ["registry", "login", "../etc", "--username", "ops"],
      env,
      undefined,
      `${password}\n`,
    );
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /registry: '\.\.\/etc' is not a registry host/);
    const logout = await cli(["registry", "logout", "127.0.0.1:5000"]);
    assert.equal(logout.code, 0, show(logout));
    assert.match((await cli(["registry", "ls"])).stdout, /no registry credentials/);
  });

  test("credentials prints the displayed login with its generated password", async () => {
    const start = await cli(["start", node.id]);
    assert.equal(start.code, 0, show(start));
    const run = await cli(["credentials", node.id]);
    assert.equal(run.code, 0, show(run));
    const password = readFileSync(join(dataDir, "state", "secrets", node.id, "rpc-password"), "utf8").trim();
    assert.match(password, /^[A-Za-z0-9]{32}$/);
    const [header, row] = run.stdout.trimEnd().split("\n");
    assert.match(header ?? "", /^LABEL\s+USERNAME\s+PASSWORD$/);
    assert.match(row ?? "", new RegExp(`^RPC login\\s+archy\\s+${password}$`));
    const json = await cli(["credentials", node.id, "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), [{ label: "RPC login", username: "archy", password }]);
    const none = await cli(["credentials", hello.id]);
    assert.equal(none.code, 0, show(none));
    assert.match(none.stdout, /has no credentials to show/);
  });

  test("revoke stops the app (podman inspect) until the operator approves again; status shows each approval", async () => {
    const nodeName = node.names.node as string;
    const status = await cli(["status", node.id]);
    assert.equal(status.code, 0, show(status));
    assert.match(status.stdout, /^permissions:$/m, show(status));
    assert.match(status.stdout, /^ {2}hwrng {6}use the host device \/dev\/zero$/m, show(status));
    assert.match(status.stdout, /^ {13}approved \S+ ago; why: Seeds key generation/m, show(status));

    const revoke = await cli(["revoke", node.id, "hwrng"]);
    assert.equal(revoke.code, 0, show(revoke));
    assert.match(
      revoke.stdout,
      new RegExp(
        `done in .*: ${node.id} is stopped \\(desired: running\\); it runs again only once approved`,
      ),
      show(revoke),
    );
    assert.equal((await lab.inspect(nodeName))?.running, false, "podman inspect: stopped by the revoke");

    const start = await cli(["start", node.id]);
    assert.equal(start.code, 1, show(start));
    assert.match(
      start.stderr,
      new RegExp(`^archy: ${node.id} asks for a permission the operator has not approved: hwrng`),
      show(start),
    );
    assert.match(
      start.stderr,
      new RegExp(`^ {2}hint: approve them: \`archy approve ${node.id} hwrng\``, "m"),
    );
    const held = await cli(["status", node.id]);
    assert.match(held.stdout, /NOT APPROVED: \S+ does not run until it is/, show(held));
    assert.equal((await lab.inspect(nodeName))?.running, false, "still stopped");

    const notOnTerminal = await cli(["approve", node.id]);
    assert.equal(notOnTerminal.code, 1, show(notOnTerminal));
    assert.match(notOnTerminal.stderr, new RegExp(`^archy: ${node.id} asks for this permission:$`, "m"));
    const approve = await cli(["approve", node.id, "hwrng"]);
    assert.equal(approve.code, 0, show(approve));
    assert.match(
      approve.stdout,
      new RegExp(`${node.id}'s permissions are approved and it is running`),
      show(approve),
    );
    assert.equal((await lab.inspect(nodeName))?.running, true, "podman inspect: running again");
  });

  test("logs shows a secret the app prints masked; only credentials shows it (SPEC invariant 4)", async () => {
    const password = readFileSync(join(dataDir, "state", "secrets", node.id, "rpc-password"), "utf8").trim();
    const run = await cli(["logs", node.id]);
    assert.equal(run.code, 0, show(run));
    assert.ok(
      run.stdout.split("\n").includes(`my RPC_PASSWORD: [secret ${node.id}/rpc-password]`),
      `the line is there, masked\n${show(run)}`,
    );
    assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), show(run));
  });

  test("the test user finds its token in ARCHY_DATA_DIR without --token-file", async () => {
    const staged = stageForTestUser();
    const run = await runAsTestUser([
      "env",
      `ARCHY_URL=${url}`,
      `ARCHY_DATA_DIR=${dataDir}`,
      staged.node,
      "--disable-warning=ExperimentalWarning",
      join(staged.dir, "src", "cli", "main.ts"),
      "ls",
      "--json",
    ]);
    assert.equal(run.code, 0, show(run));
    const ids = (JSON.parse(run.stdout) as Array<{ id: string }>).map((a) => a.id);
    assert.ok(ids.includes(hello.id), show(run));
  });

  test("errors: one line and a hint, with the documented exit codes", async () => {
    const unknown = await cli(["start", `${lab.prefix}-no-such-app`]);
    assert.equal(unknown.code, 1, show(unknown));
    assert.equal(
      unknown.stderr,
      `archy: ${lab.prefix}-no-such-app is not installed\n  hint: \`archy ls\` lists the installed apps\n`,
    );

    const notOffered = await cli(["install", `${lab.prefix}-no-such-app`]);
    assert.equal(notOffered.code, 1, show(notOffered));
    assert.match(notOffered.stderr, /^archy: no app \S+ in any source/);
    assert.match(notOffered.stderr, new RegExp(`^ {2}hint: available: .*${hello.id}`, "m"));

    const closed = await freePort();
    const unreachable = await archy(["ls"], {
      ARCHY_URL: `http://127.0.0.1:${closed}`,
      ARCHY_TOKEN_FILE: tokenFile,
    });
    assert.equal(unreachable.code, 3, show(unreachable));
    assert.match(
      unreachable.stderr,
      new RegExp(
        `^archy: cannot reach the daemon at http://127\\.0\\.0\\.1:${closed}: is \`archy daemon\` running\\?\n {2}hint: .*ECONNREFUSED`,
      ),
    );
    // No token file either: the daemon being down is what is reported.
    const nothing = await archy(["ls", "--url", `http://127.0.0.1:${closed}`], {
      ARCHY_TOKEN_FILE: "",
      ARCHY_DATA_DIR: join(lab.root, "nowhere"),
      HOME: join(lab.root, "nowhere"),
    });
    assert.equal(nothing.code, 3, show(nothing));

    const loose = join(lab.root, "loose-token");
    copyFileSync(tokenFile, loose);
    chmodSync(loose, 0o644);
    const refused = await cli(["ls", "--token-file", loose]);
    assert.equal(refused.code, 1, show(refused));
    assert.equal(
      refused.stderr,
      `archy: refusing the CLI token file ${loose}: other users can read it (mode 0644)\n  hint: run \`chmod 600 ${loose}\` (the token grants full control of the daemon)\n`,
    );

    const wrong = join(lab.root, "wrong-token");
    writeFileSync(wrong, "not-the-token-of-this-daemon-at-all\n", { mode: 0o600 });
    const rejected = await cli(["ls", "--token-file", wrong]);
    assert.equal(rejected.code, 1, show(rejected));
    assert.match(rejected.stderr, /^archy: the daemon at \S+ does not accept the CLI token in /);

    const badOption = await cli(["ls", "--bogus"]);
    assert.equal(badOption.code, 2, show(badOption));
    assert.match(badOption.stderr, /^archy: Unknown option '--bogus'/);
    const noApp = await cli(["stop"]);
    assert.equal(noApp.code, 2, show(noApp));
    assert.match(noApp.stderr, /^archy: which app\? give its id/);
    const badUrl = await cli(["ls", "--url", "ftp://example"]);
    assert.equal(badUrl.code, 2, show(badUrl));
    const badTail = await cli(["logs", hello.id, "--tail", "0"]);
    assert.equal(badTail.code, 2, show(badTail));
  });

  test("completion: bash completes commands, options and installed app ids from the daemon", async () => {
    const script = await archy(["completion", "bash"]);
    assert.equal(script.code, 0, show(script));
    const complete = (words: string[]) =>
      new Promise<string>((resolve, reject) => {
        const line = words.map((w) => `'${w}'`).join(" ");
        const program = `${script.stdout}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _archy; printf '%s\\n' "\${COMPREPLY[@]}"`;
        execFile("bash", ["-c", program], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        );
      });
    assert.deepEqual((await complete([ARCHY, "sta"])).trim().split("\n").sort(), ["start", "status"]);
    assert.match(await complete([ARCHY, "uninstall", "--p"]), /^--purge$/m);
    assert.match(await complete([ARCHY, "stop", ""]), new RegExp(`^${hello.id}$`, "m"));
    assert.match(
      await complete([ARCHY, "install", `${lab.prefix}-mini-e`]),
      new RegExp(`^${explorer.id}$`, "m"),
    );
  });

  test("reinstall recreates the container (new id, running) and keeps the data", async () => {
    const before = await lab.inspect(helloName());
    const marker = `kept-${Date.now()}`;
    await lab.exec(helloName(), `echo ${marker} > /data/reinstall-marker`);
    const run = await cli(["reinstall", hello.id]);
    assert.equal(run.code, 0, show(run));
    assert.match(
      run.stdout,
      new RegExp(`${hello.id} is reinstalled \\(new containers, data kept\\) and running`),
      show(run),
    );
    const after = await lab.inspect(helloName());
    assert.equal(after?.running, true, "podman inspect: running after the reinstall");
    assert.notEqual(after?.id, before?.id, "a new container");
    assert.equal((await lab.exec(helloName(), "cat /data/reinstall-marker")).trim(), marker);
  });

  test("uninstall removes the containers and keeps the data; --purge deletes it", async () => {
    const run = await cli(["uninstall", hello.id]);
    assert.equal(run.code, 0, show(run));
    assert.match(
      run.stdout,
      new RegExp(`${hello.id} is uninstalled; its data and secrets are kept`),
      show(run),
    );
    assert.equal(await lab.inspect(helloName()), undefined, "the container is gone");
    assert.ok(existsSync(join(dataDir, "apps", hello.id)), "its data directory is kept");
    const list = JSON.parse((await cli(["ls", "--json"])).stdout) as Array<{ id: string }>;
    assert.ok(!list.some((a) => a.id === hello.id));
    const gone = await cli(["status", hello.id]);
    assert.equal(gone.code, 1, show(gone));

    const purge = await cli(["uninstall", node.id, "--purge"]);
    assert.equal(purge.code, 0, show(purge));
    assert.match(purge.stdout, /is uninstalled and its data and secrets are deleted/, show(purge));
    assert.equal(await lab.inspect(node.names.node as string), undefined);
    assert.ok(!existsSync(join(dataDir, "apps", node.id)), "its data directory is deleted");
  });
});
