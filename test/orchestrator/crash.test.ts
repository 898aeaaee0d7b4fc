/**
 * Crash safety on the real rootless Podman, by fault injection: a driver started with
 * `--crash-before KIND:N` SIGKILLs itself just before the Nth action of that kind; a normal driver
 * started over the same store must then converge — the app running (install) or gone (uninstall) —
 * with exactly one container per key, the data written before intact, the secrets unchanged, the
 * operation that was in flight finished, and no phase left in between.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type Driver, Lab, sleep, type TestApp } from "../support/driver.ts";

/** A small seeded generator, so a failing sequence of kills can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const labs: Lab[] = [];
after(async () => {
  await Promise.all(labs.map((lab) => lab.close()));
});

type Chain = {
  lab: Lab;
  app: TestApp;
  /** A file written into an app volume once the app first runs: [container, path inside, volume, file]. */
  data: [string, string, string, string];
  token?: string;
  secrets?: Record<string, string>;
  /** Action kinds seen crashing, for the summary assertion. */
  crashed: string[];
};

async function containersByKey(chain: Chain): Promise<Map<string, Array<{ id: string; state: string }>>> {
  const byKey = new Map<string, Array<{ id: string; state: string }>>();
  for (const [name, c] of await chain.lab.containers()) {
    if (c.app !== chain.app.id && !Object.values(chain.app.names).includes(name)) continue;
    const key = c.key ?? name;
    byKey.set(key, [...(byKey.get(key) ?? []), { id: c.id, state: c.state }]);
  }
  return byKey;
}

/** Starts a crashing driver, sends `op`, and waits for the crash. Returns the operation id, if replied. */
async function crashDuring(
  chain: Chain,
  op: string,
  fields: Record<string, unknown>,
  crashBefore: string,
): Promise<string | undefined> {
  const driver = await chain.lab.driver({ crashBefore });
  const reply = driver.send(op, fields).catch(() => undefined);
  const crash = await driver.waitFor((m) => m.crash !== undefined, 60_000, `the crash before ${crashBefore}`);
  assert.equal(`${crash.crash}:${crash.n}`, crashBefore);
  await driver.exited;
  assert.equal(driver.alive, false);
  chain.crashed.push(crashBefore);
  const accepted = await reply;
  return accepted?.ok ? (accepted.result as { operationId: string }).operationId : undefined;
}

type Goal = "running" | "stopped" | "removed";

/** A normal driver over the same store: checks its first list and waits for convergence. */
async function recover(chain: Chain, goal: Goal, operationId: string | undefined): Promise<Driver> {
  const { lab, app } = chain;
  const driver = await lab.driver();
  const ready = await driver.ready;
  const listed = ready.apps?.find((a) => a.id === app.id);
  // Only a removal that had finished before the kill takes the app off the list.
  if (!(goal === "removed" && !listed && !operationId)) {
    assert.ok(listed, `the new driver lists ${app.id} at once (${JSON.stringify(ready.apps)})`);
    assert.equal(listed.desired, goal === "removed" ? "absent" : goal, "the intent survived the crash");
  }
  await driver.waitPhase(app.id, goal, 90_000);
  if (operationId) {
    const record = await driver.operationDone(operationId, 30_000);
    assert.equal(
      record.operation?.state,
      "succeeded",
      `the interrupted operation finished: ${record.operation?.error}`,
    );
  }
  const byKey = await containersByKey(chain);
  if (goal === "removed") {
    assert.equal(byKey.size, 0, `no container of ${app.id} is left: ${JSON.stringify([...byKey])}`);
    assert.equal(await driver.app(app.id), undefined, "the app is no longer listed");
  } else {
    assert.deepEqual([...byKey.keys()].sort(), Object.keys(app.names).sort(), "a container for every key");
    for (const [key, list] of byKey) {
      assert.equal(list.length, 1, `exactly one container for ${key}: ${JSON.stringify(list)}`);
      if (goal === "running") assert.equal(list[0]?.state, "running", `${key} runs`);
      else assert.notEqual(list[0]?.state, "running", `${key} is stopped`);
    }
    const row = await driver.app(app.id);
    assert.equal(row?.phase, goal);
  }
  // No churn: the recovering daemon restarted no container for health (a busy machine once made
  // probes that Podman was slow to run count as failures, and the test's next exec met a restart).
  const restarts = driver.messages.filter((m) => /is unhealthy.*restarting it/.test(m.message ?? ""));
  assert.deepEqual(restarts, [], "no container restarted for health");
  return driver;
}

/** The data and secrets checks after every convergence; the first running one records them. */
async function checkData(chain: Chain, running: boolean): Promise<void> {
  const { lab, app, data } = chain;
  const [container, inside, volume, file] = data;
  if (chain.token === undefined && running) {
    chain.token = `before-any-crash-${Date.now()}`;
    await lab.exec(app.names[container] as string, `echo ${chain.token} > ${inside}/${file}`);
  }
  if (chain.token !== undefined)
    assert.equal(
      await lab.readFile(`${lab.volumeDir(app, volume)}/${file}`),
      `${chain.token}\n`,
      "the data is intact",
    );
  const secrets = await lab.secretFiles(app);
  if (chain.secrets === undefined) chain.secrets = secrets;
  else assert.deepEqual(secrets, chain.secrets, "the secret files are unchanged");
}

async function installAfterCrash(chain: Chain, crashBefore: string): Promise<void> {
  const id = await crashDuring(chain, "install", { path: chain.app.dir }, crashBefore);
  const driver = await recover(chain, "running", id);
  await checkData(chain, true);
  if (chain.secrets && Object.keys(chain.secrets).length > 0) {
    const seen = await chain.lab.exec(chain.app.names.node as string, 'printf %s "$RPC_PASSWORD"');
    assert.equal(seen, chain.secrets["rpc-password"], "the container sees the same secret value");
  }
  await driver.kill();
}

/** An operator request on the installed app (stop, start, restart) interrupted by a crash. */
async function requestAfterCrash(chain: Chain, op: string, crashBefore: string, goal: Goal): Promise<void> {
  const name = Object.values(chain.app.names)[0] as string;
  const before = await chain.lab.inspect(name);
  const id = await crashDuring(chain, op, { app: chain.app.id }, crashBefore);
  const driver = await recover(chain, goal, id);
  const after = await chain.lab.inspect(name);
  assert.equal(after?.id, before?.id, `${op}: the same container`);
  if (op === "restart") assert.notEqual(after?.startedAt, before?.startedAt, "restarted");
  await checkData(chain, goal === "running");
  await driver.kill();
}

async function uninstallAfterCrash(chain: Chain, crashBefore: string, purge = false): Promise<void> {
  const id = await crashDuring(chain, "uninstall", { app: chain.app.id, purge }, crashBefore);
  const driver = await recover(chain, "removed", id);
  if (purge) {
    assert.equal(await chain.lab.exists(chain.lab.appDataDir(chain.app)), false, "purge deleted the data");
    assert.equal(await chain.lab.exists(chain.lab.secretsDir(chain.app)), false, "purge deleted the secrets");
  } else await checkData(chain, false);
  await driver.kill();
}

async function newChain(sample: string, data: Chain["data"]): Promise<Chain> {
  const lab = await Lab.create();
  labs.push(lab);
  return { lab, app: await lab.app(sample), data, crashed: [] };
}

describe("real Podman: crash safety by fault injection (SIGKILL before an action)", {
  concurrency: true,
}, () => {
  test("one-container app with a secret (mini-node): every action kind of install and uninstall", async () => {
    const chain = await newChain("mini-node", ["node", "/var/lib/mini-node", "chain", "marker.txt"]);
    await installAfterCrash(chain, "prepare:1");
    assert.equal(Object.keys(chain.secrets ?? {}).length, 1, "its secret was generated");
    await requestAfterCrash(chain, "stop", "stop:1", "stopped");
    await requestAfterCrash(chain, "start", "start:1", "running");
    await requestAfterCrash(chain, "restart", "restart:1", "running");
    await uninstallAfterCrash(chain, "stop:1");
    await installAfterCrash(chain, "create:1");
    await uninstallAfterCrash(chain, "remove:1");
    await installAfterCrash(chain, "start:1");
    await uninstallAfterCrash(chain, "remove-resources:1");
    await installAfterCrash(chain, "prepare:1");
    await uninstallAfterCrash(chain, "purge-data:1", true);
    assert.equal(chain.crashed.length, 11);
  });

  test("three-container stack (notes): SIGKILL at random moments of installs and uninstalls", async () => {
    const seed = Number(process.env.ARCHY_CRASH_SEED ?? Date.now() % 100_000);
    const random = mulberry32(seed);
    const chain = await newChain("notes", ["db", "/var/lib/notes", "db-data", "marker.txt"]);
    const { lab, app } = chain;
    let driver = await lab.driver();
    await driver.call("install", { path: app.dir });
    await driver.waitPhase(app.id, "running", 90_000);
    await checkData(chain, true);
    await driver.kill();
    let goal: Goal = "running";
    const story: string[] = [];
    for (let i = 0; i < 8; i++) {
      driver = await lab.driver();
      const op = i % 2 === 0 ? "uninstall" : "install";
      const reply = await driver.send(op, op === "install" ? { path: app.dir } : { app: app.id });
      if (reply.ok) goal = op === "install" ? "running" : "removed";
      const delay = Math.floor(random() * 3_000);
      await sleep(delay);
      await driver.kill();
      story.push(`${op}${reply.ok ? "" : ` refused (${reply.code})`}, SIGKILL after ${delay} ms`);
    }
    const context = `seed ${seed} (ARCHY_CRASH_SEED): ${story.join("; ")}`;
    try {
      driver = await recover(chain, goal, undefined);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${context}`);
    }
    if (goal === "running") await checkData(chain, true);
    else {
      await driver.call("install", { path: app.dir });
      await driver.waitPhase(app.id, "running", 90_000);
      await checkData(chain, true);
    }
    await driver.kill();
  });

  test("three-container stack (notes): the first and the second create and start, and uninstall", async () => {
    const chain = await newChain("notes", ["db", "/var/lib/notes", "db-data", "marker.txt"]);
    await installAfterCrash(chain, "create:1");
    await uninstallAfterCrash(chain, "stop:2");
    await installAfterCrash(chain, "create:2");
    await uninstallAfterCrash(chain, "remove:2");
    await installAfterCrash(chain, "start:1");
    await uninstallAfterCrash(chain, "remove:1");
    await installAfterCrash(chain, "start:2");
    await uninstallAfterCrash(chain, "remove-resources:1");
    assert.equal(chain.crashed.length, 8);
  });
});
