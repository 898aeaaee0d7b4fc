/**
 * mDNS (docs/app-access.md#mdns): a node started with a name under `.local` and `--mdns on`
 * answers real multicast DNS queries from another machine — a network namespace of the test's own
 * — for its name and its apps' hosts, with its address on that link, and for nothing else; a plain
 * resolver's query (legacy unicast) gets its answer on its own port; the name it resolves leads to
 * the login. The daemon listens on the namespace link only, so it answers (and joins the group) on
 * no other link of the host.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { appDnsLabel } from "../../src/manifest/naming.ts";
import { nodeCa } from "./client.ts";
import { makeNamespace, type Namespace } from "./namespace.ts";
import { startNode, type TestNode } from "./node.ts";

const NODE = `n${randomInt(0x10000).toString(16)}.local`;
const QUERY = join(import.meta.dirname, "mdns-query.ts");
const NODE_BIN = join(import.meta.dirname, "../../node_modules/.bin/node");

let node: TestNode;
let ns: Namespace;
let work: string;

type Answer = { name: string; type: string; data: string | null; ttl: number | null };

/** A real mDNS query from inside the namespace: the answers it got. */
async function query(mode: "multicast" | "legacy", names: string[]): Promise<Answer[]> {
  const result = await ns.run(NODE_BIN, [
    "--disable-warning=ExperimentalWarning",
    QUERY,
    mode,
    ns.address,
    ...names,
  ]);
  assert.equal(result.code, 0, `mdns-query ${mode} ${names.join(" ")}: ${result.stderr}`);
  return result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Answer);
}

before(async () => {
  ns = await makeNamespace("md");
  node = await startNode({ listen: ns.hostAddress, daemonArgs: ["--node-name", NODE, "--mdns", "on"] });
  work = mkdtempSync("/tmp/archy-px-mdns-");
  writeFileSync(join(work, "ca.crt"), nodeCa(node.dataDir));
});

after(async () => {
  await node?.close();
  await ns?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("mDNS, from another network namespace", () => {
  test("a multicast query resolves an app's host and the node's name to the node's address on that link, and nothing unpublished", async () => {
    const app = `${appDnsLabel(node.ids.hello)}.${NODE}`;
    const nobody = `nobody.${NODE}`;
    const answers = await query("multicast", [app, NODE, nobody]);
    const a = answers.filter((answer) => answer.type === "A");
    assert.deepEqual(
      a.map((answer) => [answer.name, answer.data]).sort(),
      [
        [app, ns.hostAddress],
        [NODE, ns.hostAddress],
      ].sort(),
      JSON.stringify(answers),
    );
    assert.ok(!answers.some((answer) => answer.name === nobody), "no answer for a name no app has");
  });

  test("a second interface's host is published too", async () => {
    const open = `open.${appDnsLabel(node.ids.big)}.${NODE}`;
    const answers = await query("multicast", [open]);
    assert.deepEqual(
      answers.map((answer) => [answer.name, answer.type, answer.data]),
      [[open, "A", ns.hostAddress]],
    );
  });

  test("a plain resolver's query (legacy unicast) is answered on its own port, with its id, short-lived", async () => {
    const app = `${appDnsLabel(node.ids.hello)}.${NODE}`;
    const answers = await query("legacy", [app]);
    assert.deepEqual(
      answers.map((answer) => [answer.name, answer.type, answer.data]),
      [[app, "A", ns.hostAddress]],
    );
    assert.ok(
      (answers[0]?.ttl ?? 99) <= 10,
      `RFC 6762 6.7: a legacy answer lives 10 s at most, got ${answers[0]?.ttl}`,
    );
  });

  test("the resolved name leads to the node's login over TLS", async () => {
    const app = `${appDnsLabel(node.ids.hello)}.${NODE}`;
    const [answer] = await query("multicast", [app]);
    assert.ok(answer?.data);
    const result = await ns.curl([
      "--resolve",
      `${app}:${node.port}:${answer.data}`,
      "--cacert",
      join(work, "ca.crt"),
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{redirect_url}",
      `https://${app}:${node.port}/`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const [status, location] = result.stdout.split(" ");
    assert.equal(status, "302");
    assert.match(
      location ?? "",
      new RegExp(`^https://${NODE.replace(".", "\\.")}:${node.port}/app-login\\?to=`),
    );
  });
});
