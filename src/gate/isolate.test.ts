import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { checkAppSet } from "../manifest/app-set.ts";
import { CURRENT_NAMING, containerName } from "../manifest/naming.ts";
import { parseManifest } from "../manifest/parse.ts";
import { hostPathsOf, type Isolation, IsolationError, isolateManifest, publishedPorts } from "./isolate.ts";

const APPS = resolve(import.meta.dirname, "../../apps");
const SAMPLES = ["hello-web", "notes", "mini-node", "mini-explorer"];
const text = (id: string) => readFileSync(resolve(APPS, id, "manifest.yml"), "utf8");

const isolation: Isolation = {
  prefix: "g1a2b",
  ids: Object.fromEntries(SAMPLES.map((id) => [id, `g1a2b-${id}`])),
  ports: {
    "web/8080/tcp": 41001,
    "web/80/tcp": 41002,
    "node/8333/udp": 41003,
    "explorer/8080/tcp": 41004,
  },
  hostRoot: "/srv/archy-gate-sandbox",
  device: "/dev/zero",
};

function parsed(source: string) {
  const result = parseManifest(source, "manifest.yml");
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues.slice(0, 3)));
  return result.manifest;
}

describe("sandbox copies of the apps", () => {
  test("published ports are found with their protocol", () => {
    assert.deepEqual(publishedPorts(text("mini-node")), [
      { key: "node/8333/udp", host: 18082, protocol: "udp" },
    ]);
    assert.deepEqual(publishedPorts(text("notes")), [{ key: "web/80/tcp", host: 18081, protocol: "tcp" }]);
  });

  test("a copy renames the apps that interpolated references name: apps-real's rw-notes", () => {
    const notes = readFileSync(resolve(APPS, "../apps-real/rw-notes/manifest.yml"), "utf8");
    const ids = { "rw-notes": "g1a2b-rw-notes", "rw-postgres": "g1a2b-rw-postgres" };
    const copy = parsed(isolateManifest(notes, { ...isolation, ids, ports: { "web/8080/tcp": 41005 } }).text);
    assert.equal(
      copy.containers.web?.environment.DATABASE_URL,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the manifest's own ${…} references
      "postgres://rw_notes:${secret:db-password}@${export:g1a2b-rw-postgres/host}:${export:g1a2b-rw-postgres/port}/rw_notes",
    );
    assert.doesNotMatch(JSON.stringify(copy), /export:rw-postgres\//);
  });

  test("every sample's copy is a valid manifest with prefixed ids, names and references", () => {
    const copies = SAMPLES.map((id) => ({ id, copy: isolateManifest(text(id), isolation) }));
    for (const { id, copy } of copies) {
      const m = parsed(copy.text);
      assert.equal(m.id, `g1a2b-${id}`);
      assert.equal(copy.id, m.id);
      for (const key of Object.keys(m.containers))
        assert.match(containerName(m, key, CURRENT_NAMING), /^g1a2b-/, `${id}/${key}`);
      for (const dep of m.dependencies) assert.match(dep.id, /^g1a2b-/);
    }
    const explorer = parsed(copies.find((c) => c.id === "mini-explorer")?.copy.text as string);
    assert.deepEqual(explorer.containers.explorer?.environment.RPC_HOST, {
      app: "g1a2b-mini-node",
      export: "host",
    });
    // Together they are a valid set (no port or name clash, dependencies resolve).
    const findings = checkAppSet(
      copies.map(({ copy }) => ({ manifest: parsed(copy.text), file: "manifest.yml" })),
    );
    assert.deepEqual(findings, []);
  });

  test("host ports become the free ones given, on 127.0.0.1 only; the substitutions are listed", () => {
    const copy = isolateManifest(text("notes"), isolation);
    const m = parsed(copy.text);
    assert.deepEqual(
      m.containers.web?.ports.map((p) => [p.container, p.host, p.bind]),
      [[80, 41002, "127.0.0.1"]],
    );
    assert.ok(
      copy.substitutions.includes("port web:80/tcp 0.0.0.0:18081 -> 127.0.0.1:41002"),
      copy.substitutions.join("\n"),
    );
    assert.ok(copy.substitutions.includes("container name notes-database -> g1a2b-notes-database"));
    const node = parsed(isolateManifest(text("mini-node"), isolation).text);
    assert.deepEqual(
      node.containers.node?.ports.map((p) => [p.container, p.host, p.protocol]),
      [
        [8332, undefined, "tcp"],
        [8333, 41003, "udp"],
      ],
    );
  });

  test("host paths move under the sandbox; devices get a stand-in at the same path inside", () => {
    const copy = isolateManifest(text("mini-node"), isolation);
    const m = parsed(copy.text);
    const volume = m.containers.node?.volumes.find((v) => v.host_path);
    assert.equal(volume?.host_path, "/srv/archy-gate-sandbox/srv/mini-node/bootstrap");
    assert.deepEqual(m.permissions.bootstrap, {
      kind: "host-path",
      path: "/srv/archy-gate-sandbox/srv/mini-node",
      reason: m.permissions.bootstrap?.reason,
    });
    assert.equal(m.permissions.hwrng?.kind === "device" && m.permissions.hwrng.path, "/dev/zero");
    assert.deepEqual(m.containers.node?.devices, [{ permission: "hwrng", path: "/dev/hwrng" }]);
    assert.ok(copy.substitutions.some((s) => s.startsWith("device /dev/hwrng -> /dev/zero")));
    assert.deepEqual(hostPathsOf(text("mini-node"), "/srv/archy-gate-sandbox"), [
      "/srv/archy-gate-sandbox/srv/mini-node/bootstrap",
    ]);
  });

  test("legacy adoption names are prefixed, so a sandbox never adopts someone else's container", () => {
    const m = parsed(isolateManifest(text("hello-web"), isolation).text);
    assert.deepEqual(m.adoption.containers.web, ["g1a2b-hello", "g1a2b-hello-web-legacy"]);
    assert.equal(m.adoption.volumes.content, "g1a2b-hello-web-data");
    assert.equal(m.adoption.data_paths.content, "/srv/archy-gate-sandbox/srv/hello-web");
  });

  test("comments and layout are kept; a port without a sandbox port is an error", () => {
    const copy = isolateManifest(text("hello-web"), isolation);
    assert.match(copy.text, /# Seed the volume with the image's default page on first start/);
    assert.throws(() => isolateManifest(text("hello-web"), { ...isolation, ports: {} }), IsolationError);
    assert.throws(
      () => isolateManifest(text("hello-web"), { ...isolation, ids: {} }),
      /no sandbox id for hello-web/,
    );
  });
});
