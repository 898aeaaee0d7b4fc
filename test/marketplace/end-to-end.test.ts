/**
 * The marketplace end to end, as a third-party developer and two operators would take it: a real
 * relay with a bundle mirror on loopback (`archy dev relay`'s), a developer with `archy dev keygen`
 * and `archy app publish`, and two real daemons (two data directories) running as the test user:
 * node A discovers the app (trust unknown), confirms the risk, installs it and runs it on real
 * rootless Podman (its page comes from the verified bundle, copied by its post_install hook); the
 * developer publishes the next version and node A updates. Node B, whose operator follows the
 * developer, sees the same app trusted, and an app of the same id by another key beside it.
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type DevRelay, startDevRelay } from "../../src/marketplace/dev-relay.ts";
import { KINDS } from "../../src/marketplace/events.ts";
import { npub } from "../../src/marketplace/identity.ts";
import { publish } from "../../src/marketplace/relay.ts";
import { archy, DaemonProcess, type Run, show } from "../support/daemon-process.ts";
import { eventually, httpGet, Lab, type TestApp } from "../support/driver.ts";
import { testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { ScanRecorder } from "../support/secret-scan.ts";
import { appDir, devKey, publishDir, sign } from "./support.ts";

const isRoot = process.getuid?.() === 0;

type Node = { daemon: DaemonProcess; url: string; dataDir: string; env: Record<string, string> };
type MarketApp = {
  id: string;
  version: string;
  source: string;
  publisher: string;
  trust: { score: number; level: string; reasons: string[] };
  installedVersion: string | null;
  updateAvailable: boolean;
  otherSource: string | null;
};

describe("real Podman: a developer publishes over Nostr, a node installs, runs and updates the app", () => {
  let lab: Lab;
  let relay: DevRelay;
  let scan: ScanRecorder;
  let app: TestApp;
  let keyFile: string;
  const nodes: Node[] = [];
  const developer = (args: string[]) => archy(args, { ARCHY_DEV_KEY: keyFile });

  async function startNode(name: string): Promise<Node> {
    const dataDir = join(lab.root, name);
    mkdirSync(dataDir, { mode: 0o700 });
    if (isRoot) chownSync(dataDir, testUser.uid, testUser.gid);
    const url = `http://127.0.0.1:${await freePort()}`;
    const daemon = new DaemonProcess(
      [
        "--data-dir",
        dataDir,
        "--listen",
        url.slice("http://".length),
        "--podman-socket",
        lab.service.socketPath,
      ],
      scan,
    );
    await eventually(
      `node ${name} answers and is connected to Podman`,
      async () => {
        const response = await fetch(`${url}/rpc/v1`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
          signal: AbortSignal.timeout(2_000),
        }).catch(() => undefined);
        const body = (await response?.json()) as { result?: { backend: string } } | undefined;
        return body?.result && body.result.backend !== "connecting to Podman";
      },
      60_000,
    ).catch(async (error) => {
      await daemon.stop();
      throw new Error(`${(error as Error).message}\n--- daemon ---\n${daemon.output}`);
    });
    const node = {
      daemon,
      url,
      dataDir,
      env: { ARCHY_URL: url, ARCHY_TOKEN_FILE: join(dataDir, "state", "cli-token") },
    };
    nodes.push(node);
    return node;
  }

  const on = (node: Node, args: string[]) => archy(args, node.env);
  const ok = (run: Run, what: string) => assert.equal(run.code, 0, `${what}\n${show(run)}`);
  const marketList = async (node: Node) => {
    const run = await on(node, ["market", "ls", "--json"]);
    ok(run, "market ls");
    return (JSON.parse(run.stdout) as { apps: MarketApp[] }).apps;
  };

  before(async () => {
    lab = await Lab.create();
    scan = new ScanRecorder("cli-daemon", lab.prefix, {});
    relay = await startDevRelay({ bundlesDir: join(lab.root, "mirror") });
    app = await lab.app("hello-web");
    keyFile = join(lab.root, "developer", "nostr-key.json");
  });

  after(async () => {
    for (const node of nodes) await node.daemon.stop();
    await relay?.close();
    await lab?.close();
    scan?.close();
  });

  test("developer: keygen (0600, npub and did:key), whoami, publish to the relay", async () => {
    const keygen = await developer(["dev", "keygen"]);
    ok(keygen, "keygen");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(keygen.stdout, /^npub: {4}npub1[0-9a-z]{58}$/m);
    assert.match(keygen.stdout, /^did: {5}did:key:zQ3s[1-9A-HJ-NP-Za-km-z]+$/m);
    assert.doesNotMatch(keygen.stdout, /nsec|"hex"/, "the secret key is never printed");
    const again = await developer(["dev", "keygen"]);
    assert.equal(again.code, 1, "a key file is never overwritten");
    assert.match(again.stderr, /exists already: a key file is never overwritten/);
    const whoami = await developer(["dev", "whoami", "--json"]);
    ok(whoami, "whoami");
    assert.equal(JSON.parse(whoami.stdout).file, keyFile);

    const published = await developer([
      "app",
      "publish",
      app.dir,
      "--relay",
      relay.url,
      "--bundle-url",
      relay.bundlesUrl,
    ]);
    ok(published, "publish");
    assert.match(published.stdout, new RegExp(`^${app.id} 1\\.2\\.0 by npub1`, "m"));
    assert.match(published.stdout, /^relay ws:\/\/127\.0\.0\.1:\d+: published$/m);
    const twice = await developer([
      "app",
      "publish",
      app.dir,
      "--relay",
      relay.url,
      "--bundle-url",
      relay.bundlesUrl,
    ]);
    assert.equal(twice.code, 1, show(twice));
    assert.match(
      twice.stderr,
      /1\.2\.0 is not newer than 1\.2\.0, which this key published to ws:.*raise the version/,
    );
  });

  test("node A discovers the app with trust unknown, installs it once the risk is confirmed, and runs it", async () => {
    const a = await startNode("node-a");
    ok(await on(a, ["market", "relays", "add", relay.url]), "relays add");
    ok(await on(a, ["market", "refresh"]), "refresh");
    const offer = (await marketList(a)).find((o) => o.id === app.id);
    assert.ok(offer, "node A lists the app");
    assert.equal(offer.trust.level, "unknown");
    const available = await on(a, ["available"]);
    assert.match(available.stdout, new RegExp(`^${app.id}\\s+1\\.2\\.0\\s`, "m"), show(available));

    const refused = await on(a, ["install", app.id]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /published by npub1.*below your threshold of 50/);
    assert.match(refused.stderr, /--confirm-risk/, "the hint says how to confirm");

    const installed = await on(a, ["install", app.id, "--confirm-risk"]);
    ok(installed, "install --confirm-risk");
    assert.match(installed.stdout, new RegExp(`${app.id} 1\\.2\\.0 is installed and running`));
    const page = await eventually("the app's page, from its verified bundle, answers", async () => {
      const answer = await httpGet(app.ports["web/8080"] as number);
      return answer?.status === 200 ? answer : undefined;
    });
    assert.equal(
      page.body,
      readFileSync(join(app.dir, "files", "index.html"), "utf8"),
      "post_install copied the bundle's page",
    );
    const status = JSON.parse((await on(a, ["status", app.id, "--json"])).stdout) as {
      source: string;
      flags: string[];
    };
    assert.match(status.source, /^nostr:npub1/);
    assert.deepEqual(status.flags, []);
  });

  test("the developer publishes the next version; node A sees the update and applies it", async () => {
    const next = await lab.app("hello-web", { version: "1.3.0", ports: app.ports, variant: "next" });
    ok(
      await developer(["app", "publish", next.dir, "--relay", relay.url, "--bundle-url", relay.bundlesUrl]),
      "publish 1.3.0",
    );
    const a = nodes[0] as Node;
    ok(await on(a, ["market", "refresh"]), "refresh");
    const offer = (await marketList(a)).find((o) => o.id === app.id);
    assert.equal(offer?.version, "1.3.0");
    assert.equal(offer?.updateAvailable, true);
    const updated = await on(a, ["update", app.id]);
    ok(updated, "update");
    assert.match(updated.stdout, new RegExp(`${app.id} is updated to 1\\.3\\.0 and running`));
    await eventually(
      "the updated app answers",
      async () => (await httpGet(app.ports["web/8080"] as number))?.status === 200,
    );
  });

  test("node B, whose operator follows the developer, sees the app trusted, and another key's app of the same id beside it", async () => {
    const b = await startNode("node-b");
    const operator = devKey();
    const whoami = JSON.parse((await developer(["dev", "whoami", "--json"])).stdout) as { pubkey: string };
    assert.equal(
      (await publish(relay.url, sign(operator, { kind: KINDS.contacts, tags: [["p", whoami.pubkey]] }))).ok,
      true,
    );
    const mallory = devKey();
    await publishDir(mallory, appDir(lab.root, app.id, "9.0.0"), relay);
    ok(await on(b, ["market", "relays", "add", relay.url]), "relays add");
    ok(await on(b, ["market", "identity", npub(operator.pubkey)]), "identity");
    ok(await on(b, ["market", "refresh"]), "refresh");
    const offers = (await marketList(b)).filter((o) => o.id === app.id);
    assert.equal(offers.length, 2, "the same id by two keys: two apps");
    const developers = offers.find((o) => o.publisher !== npub(mallory.pubkey));
    assert.deepEqual(developers?.trust, { score: 80, level: "trusted", reasons: ["followed by you"] });
    assert.equal(developers?.version, "1.3.0");
    const hers = offers.find((o) => o.publisher === npub(mallory.pubkey));
    assert.equal(hers?.trust.level, "unknown");
    const table = await on(b, ["market", "ls"]);
    assert.match(table.stdout, /^APP\s+VERSION\s+PUBLISHER\s+TRUST\s+INSTALLED\s+WHY$/m);
    // Node A, where the developer's app is installed: the other key's app is another app, not an update.
    const onA = (await marketList(nodes[0] as Node)).filter((o) => o.id === app.id);
    await on(nodes[0] as Node, ["market", "refresh"]);
    const seen = (await marketList(nodes[0] as Node)).find((o) => o.publisher === npub(mallory.pubkey));
    assert.ok(onA.length >= 1);
    assert.match(seen?.otherSource ?? "", /^nostr:npub1/, "shown as another app than the installed one");
    assert.equal(seen?.updateAvailable, false);
    const refused = await on(nodes[0] as Node, ["update", app.id]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /not newer than the installed 1\.3\.0/);
  });
});
