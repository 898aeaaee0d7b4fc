import assert from "node:assert/strict";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { loadManifest } from "../manifest/load.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { describeTarget, reachTargets, statusMatches } from "./reachability.ts";

const APPS = resolve(import.meta.dirname, "../../apps");

async function sample(id: string): Promise<Manifest> {
  const loaded = await loadManifest(resolve(APPS, id));
  assert.ok(loaded.ok);
  return loaded.manifest;
}

function manifest(containers: string, extra = ""): Manifest {
  const parsed = parseManifest(
    `manifest: 1\nid: probe\nversion: 1.0.0\nname: Probe\ndescription: A test app\ncontainers:\n${containers}${extra}`,
    "manifest.yml",
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  return parsed.manifest;
}

describe("how an operator reaches an app", () => {
  test("hello-web: its UI over HTTP, any success (the health check probes another path)", async () => {
    const { targets, availability } = reachTargets(await sample("hello-web"));
    assert.deepEqual(availability, { available: true });
    assert.deepEqual(targets, [
      {
        kind: "http",
        name: "ui",
        protocol: "http",
        container: "web",
        hostPort: 18080,
        path: "/",
        status: undefined,
      },
    ]);
    assert.equal(
      describeTarget(targets[0] as never),
      "HTTP 2xx/3xx from http://127.0.0.1:18080/ (interface ui)",
    );
  });

  test("notes: the health check's status is expected where it probes the interface's path", async () => {
    const { targets } = reachTargets(await sample("notes"));
    assert.deepEqual(targets, [
      {
        kind: "http",
        name: "ui",
        protocol: "http",
        container: "web",
        hostPort: 18081,
        path: "/",
        status: 200,
      },
    ]);
  });

  test("mini-node: nothing to reach, and the reason says so", async () => {
    const { targets, availability } = reachTargets(await sample("mini-node"));
    assert.deepEqual(targets, []);
    assert.equal(availability.available, false);
    assert.match(
      !availability.available ? availability.reason : "",
      /declares no interface and no health-checked TCP port/,
    );
  });

  test("no interface: a published, health-checked TCP port is connected to", () => {
    const m = manifest(`  db:
    image: localhost/db:1
    ports: [{ container: 5432, host: 15432, bind: 127.0.0.1 }]
    health: { type: tcp, port: 5432 }
`);
    assert.deepEqual(reachTargets(m).targets, [
      { kind: "tcp", name: "db:5432", container: "db", hostPort: 15432 },
    ]);
  });

  test("never off loopback: an interface bound to another address, or not published, is not probed", () => {
    const bound = manifest(
      `  web:
    image: localhost/web:1
    ports: [{ container: 80, host: 8088, bind: 192.0.2.10 }]
`,
      "interfaces:\n  ui: { container: web, port: 80 }\n",
    );
    const result = reachTargets(bound);
    assert.deepEqual(result.targets, []);
    assert.match(!result.availability.available ? result.availability.reason : "", /bound to 192\.0\.2\.10/);
    const hidden = manifest(
      `  web:
    image: localhost/web:1
    ports: [{ container: 80 }]
`,
      "interfaces:\n  ui: { container: web, port: 80 }\n",
    );
    assert.match(
      (reachTargets(hidden).availability as { reason: string }).reason,
      /interface ui \(web:80\) is not published/,
    );
  });

  test("status: exact when the health check names it, else any success or redirect", () => {
    const exact = {
      kind: "http",
      name: "ui",
      protocol: "http",
      container: "w",
      hostPort: 1,
      path: "/",
      status: 200,
    } as const;
    assert.equal(statusMatches(exact, 200), true);
    assert.equal(statusMatches(exact, 302), false);
    const loose = { ...exact, status: undefined };
    assert.equal(statusMatches(loose, 302), true);
    assert.equal(statusMatches(loose, 404), false);
    assert.equal(statusMatches(loose, 500), false);
  });
});
