/**
 * No way around the login (docs/app-access.md): seen from another machine — a network namespace of
 * the test's own, joined to the host by a veth pair on a /30 — an app's interface port is closed
 * (published on 127.0.0.1 only), while the daemon's port answers: the login first, the app once
 * logged in. A port the test app publishes on every address on purpose shows the namespace does
 * reach the host's ports. The namespace, its link and addresses are removed at the end.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appDnsLabel } from "../../src/manifest/naming.ts";
import { exec } from "../../src/system/exec.ts";
import { PASSWORD } from "../api/support.ts";
import { nodeCa } from "./client.ts";
import { startNode, type TestNode } from "./node.ts";

const suffix = randomInt(0x10000).toString(16).padStart(4, "0");
const NS = `archy-px-${suffix}`;
const HOST_LINK = `apx${suffix}h`;
const NS_LINK = `apx${suffix}n`;

let node: TestNode;
let hostAddress: string;
let work: string;

async function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(file, args, { timeoutMs: 30_000 });
}

async function must(file: string, args: string[]): Promise<string> {
  const result = await run(file, args);
  assert.equal(result.code, 0, `${file} ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A /30 of 10.0.0.0/8 that no interface of the host uses. */
async function freeNet(): Promise<string> {
  const used = await must("ip", ["-o", "-4", "addr"]);
  for (let attempt = 0; attempt < 50; attempt++) {
    const net = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
    if (!used.includes(` ${net}.`)) return net;
  }
  throw new Error("no free 10.x.y.0/30 for the test namespace");
}

/** curl run inside the namespace. */
function curlIn(args: string[]) {
  return run("ip", ["netns", "exec", NS, "curl", "-sS", "-m", "10", ...args]);
}

before(async () => {
  assert.equal(process.getuid?.(), 0, "this test makes a network namespace: run it as root (as CI does)");
  const net = await freeNet();
  hostAddress = `${net}.1`;
  await must("ip", ["netns", "add", NS]);
  await must("ip", ["link", "add", HOST_LINK, "type", "veth", "peer", "name", NS_LINK]);
  await must("ip", ["link", "set", NS_LINK, "netns", NS]);
  await must("ip", ["addr", "add", `${hostAddress}/30`, "dev", HOST_LINK]);
  await must("ip", ["link", "set", HOST_LINK, "up"]);
  await must("ip", ["netns", "exec", NS, "ip", "addr", "add", `${net}.2/30`, "dev", NS_LINK]);
  await must("ip", ["netns", "exec", NS, "ip", "link", "set", NS_LINK, "up"]);
  await must("ip", ["netns", "exec", NS, "ip", "link", "set", "lo", "up"]);
  node = await startNode({ listen: hostAddress });
  work = mkdtempSync("/tmp/archy-px-netns-");
  writeFileSync(join(work, "ca.crt"), nodeCa(node.dataDir));
});

after(async () => {
  await node?.close();
  await run("ip", ["link", "del", HOST_LINK]);
  await run("ip", ["netns", "del", NS]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("from another network namespace", () => {
  test("the interface port of an app is refused directly; a port published on every address is reached (the path works)", async () => {
    const hello = node.ports[node.ids.hello] as number;
    const direct = await curlIn([`http://${hostAddress}:${hello}/`]);
    assert.equal(
      direct.code,
      7,
      `connection refused (curl exit 7), got ${direct.code}: ${direct.stdout}${direct.stderr}`,
    );
    const control = await curlIn([`http://${hostAddress}:${node.controlPort}/private.txt`]);
    assert.equal(control.code, 0, control.stderr);
    assert.equal(control.stdout, "private\n");
  });

  test("the daemon's port: the login first, the app once logged in", async () => {
    const appHost = `${appDnsLabel(node.ids.hello)}.localhost`;
    const resolve = [
      "--resolve",
      `${appHost}:${node.port}:${hostAddress}`,
      "--resolve",
      `localhost:${node.port}:${hostAddress}`,
      "--cacert",
      join(work, "ca.crt"),
    ];
    const anonymous = await curlIn([
      ...resolve,
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{redirect_url}",
      `https://${appHost}:${node.port}/`,
    ]);
    assert.equal(anonymous.code, 0, anonymous.stderr);
    const [status, location] = anonymous.stdout.split(" ");
    assert.equal(status, "302");
    assert.match(location ?? "", new RegExp(`^https://localhost:${node.port}/app-login\\?to=`));
    const jar = join(work, "jar");
    const form = `password=${encodeURIComponent(PASSWORD)}&to=${encodeURIComponent(`https://${appHost}:${node.port}/`)}`;
    const loggedIn = await curlIn([
      ...resolve,
      "-c",
      jar,
      "-b",
      jar,
      "-L",
      "-H",
      `origin: https://localhost:${node.port}`,
      "--data",
      form,
      `https://localhost:${node.port}/app-login`,
    ]);
    assert.equal(loggedIn.code, 0, loggedIn.stderr);
    assert.match(loggedIn.stdout, /<h1>Hello Web<\/h1>/, "the app's page, through the proxy, with a session");
    const again = await curlIn([...resolve, "-b", jar, `https://${appHost}:${node.port}/`]);
    assert.match(again.stdout, /<h1>Hello Web<\/h1>/);
  });
});
