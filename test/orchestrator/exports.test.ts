/**
 * Exports between apps on the real rootless Podman, through the stand-in daemon: the dependent
 * reaches the dependency's exported container by name through a hosts entry for its fixed address
 * (never by the luck of DNS server order, containers/aardvark-dns#403); a restart of the
 * dependency keeps that address and leaves the dependent alone; an update that changes an export
 * the dependent uses recreates the dependent, one that changes an export it does not use does not.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { networkName } from "../../src/manifest/naming.ts";
import { type Driver, eventually, httpGet, Lab, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;
let node: TestApp;
let explorer: TestApp;

async function succeeded(operationId: string, timeoutMs = 120_000): Promise<void> {
  const record = await driver.operationDone(operationId, timeoutMs);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
}

/** The node's address on its own network, as Podman reports it. */
async function nodeAddress(): Promise<string> {
  const format = `{{(index .NetworkSettings.Networks "${networkName(node.id)}").IPAddress}}`;
  return (await lab.podman(["container", "inspect", "--format", format, node.names.node as string])).trim();
}

async function explorerFetchesNode(): Promise<void> {
  await eventually(
    "the explorer to fetch the node's status by the node's name",
    async () => {
      const page = await httpGet(explorer.ports["explorer/8080"] as number, "/node.json").catch(
        () => undefined,
      );
      return page?.status === 200 && page.body.includes("regtest") ? true : undefined;
    },
    60_000,
  );
}

/** A new version of mini-node whose exports `edit` changes (its ports kept). */
async function nodeVersion(version: string, edit: (doc: YAMLMap) => void): Promise<TestApp> {
  const app = await lab.app("mini-node", { variant: `v${version}`, version, ports: node.ports });
  await lab.editManifest(app, edit);
  return app;
}

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  node = await lab.app("mini-node");
  explorer = await lab.app("mini-explorer");
  await succeeded((await driver.call<{ operationId: string }>("install", { path: node.dir })).operationId);
  await succeeded(
    (await driver.call<{ operationId: string }>("install", { path: explorer.dir })).operationId,
  );
});

after(async () => {
  await lab?.close();
});

describe("real Podman: exports between apps", () => {
  test("the dependent reaches the exported container by name: a hosts entry for its fixed address", async () => {
    const address = await nodeAddress();
    assert.match(address, /^\d+\.\d+\.\d+\.254$/, "the top of the node network's subnet");
    const hosts = await lab.exec(explorer.names.explorer as string, "cat /etc/hosts");
    assert.ok(hosts.split("\n").includes(`${address}\t${node.names.node}`), hosts);
    await explorerFetchesNode();
  });

  test("a restart of the dependency keeps its address and leaves the dependent alone", async () => {
    const address = await nodeAddress();
    const before = await lab.inspect(explorer.names.explorer as string);
    await succeeded((await driver.call<{ operationId: string }>("restart", { app: node.id })).operationId);
    assert.equal(await nodeAddress(), address);
    const after = await lab.inspect(explorer.names.explorer as string);
    assert.equal(after?.id, before?.id);
    assert.equal(after?.startedAt, before?.startedAt, "not restarted");
    await explorerFetchesNode();
  });

  test("an update that changes an export the dependent does not use leaves it alone", async () => {
    const before = await lab.inspect(explorer.names.explorer as string);
    const next = await nodeVersion("1.5.0", (doc) =>
      (doc.get("exports") as YAMLMap).set(
        "chain",
        parseDocument(JSON.stringify({ value: "regtest" })).contents,
      ),
    );
    await succeeded((await driver.call<{ operationId: string }>("update", { path: next.dir })).operationId);
    await driver.waitPhase(explorer.id, "running", 60_000);
    const after = await lab.inspect(explorer.names.explorer as string);
    assert.equal(after?.id, before?.id, "the explorer was not recreated");
    await explorerFetchesNode();
  });

  test("an update that changes an export the dependent uses recreates the dependent", async () => {
    const before = await lab.inspect(explorer.names.explorer as string);
    const next = await nodeVersion("1.6.0", (doc) => {
      (doc.get("exports") as YAMLMap).setIn(["rpc-user", "value"], "explorer");
      (doc.getIn(["containers", "node", "environment"]) as YAMLMap).set("RPC_USER", "explorer");
      (doc.get("credentials") as { items: YAMLMap[] }).items[0]?.set("username", "explorer");
    });
    await succeeded((await driver.call<{ operationId: string }>("update", { path: next.dir })).operationId);
    const recreated = await eventually(
      "the explorer to be recreated with the new RPC user",
      async () => {
        const now = await lab.inspect(explorer.names.explorer as string);
        return now?.running && now.id !== before?.id ? now : undefined;
      },
      60_000,
    );
    const env = await lab.exec(recreated.name, "echo $RPC_USER");
    assert.equal(env.trim(), "explorer");
    await explorerFetchesNode();
  });
});
