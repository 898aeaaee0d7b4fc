/**
 * No way around the login (docs/app-access.md): seen from another machine — a network namespace of
 * the test's own, joined to the host by a veth pair on a /30 — an app's interface port is closed
 * (published on 127.0.0.1 only), while the daemon's port answers: the login first, the app once
 * logged in. A port the test app publishes on every address on purpose shows the namespace does
 * reach the host's ports. The namespace, its link and addresses are removed at the end.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appDnsLabel } from "../../src/manifest/naming.ts";
import { PASSWORD } from "../api/support.ts";
import { nodeCa } from "./client.ts";
import { makeNamespace, type Namespace } from "./namespace.ts";
import { startNode, type TestNode } from "./node.ts";

let node: TestNode;
let ns: Namespace;
let hostAddress: string;
let work: string;

/** curl run inside the namespace. */
function curlIn(args: string[]) {
  return ns.curl(args);
}

before(async () => {
  ns = await makeNamespace("px");
  hostAddress = ns.hostAddress;
  node = await startNode({ listen: hostAddress });
  work = mkdtempSync("/tmp/archy-px-netns-");
  writeFileSync(join(work, "ca.crt"), nodeCa(node.dataDir));
});

after(async () => {
  await node?.close();
  await ns?.close();
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
