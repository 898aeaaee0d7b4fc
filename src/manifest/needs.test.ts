import assert from "node:assert/strict";
import { test } from "node:test";
import { describeNeeds } from "./needs.ts";
import { ManifestSchema } from "./schema.ts";

const manifest = (extra: Record<string, unknown>) =>
  ManifestSchema.parse({
    manifest: 1,
    id: "demo",
    version: "1.0.0",
    name: "Demo",
    description: "A demo",
    containers: { web: { image: "localhost/x:1" } },
    ...extra,
  });

test("an app that asks nothing of the node needs nothing", () => {
  assert.deepEqual(describeNeeds(manifest({})), []);
});

test("each need in plain words: dependencies, ports and to whom, storage, host folders, devices", () => {
  const needs = describeNeeds(
    manifest({
      dependencies: [
        { id: "db", version: "^2.0.0" },
        { id: "cache", state: "healthy" },
      ],
      containers: {
        web: {
          image: "localhost/x:1",
          ports: [
            { container: 80, host: 8080, bind: "127.0.0.1" },
            { container: 81, host: 8081 },
            { container: 82 },
          ],
          volumes: [
            { name: "data", path: "/data" },
            { host_path: "/srv/media", permission: "media", path: "/media", read_only: true },
          ],
          devices: [{ permission: "serial" }],
        },
        worker: { image: "localhost/x:1", volumes: [{ name: "data", path: "/data" }] },
      },
      permissions: {
        media: { kind: "host-path", path: "/srv/media", reason: "to show your photos" },
        serial: { kind: "device", path: "/dev/ttyUSB0", reason: "to talk to the radio" },
        admin: { kind: "capability", capability: "NET_ADMIN", reason: "to route traffic" },
      },
    }),
  );
  assert.deepEqual(
    needs.map((n) => `${n.kind}: ${n.text}`),
    [
      "dependency: Needs the app db ^2.0.0, running",
      "dependency: Needs the app cache, healthy",
      "port: Opens port 8080/tcp to this node only (web)",
      "port: Opens port 8081/tcp to your network (web)",
      'storage: Keeps its data in the volume "data" (web), kept when it is uninstalled',
      "host-path: Reads the host folder /srv/media (web): to show your photos",
      "device: Uses the device /dev/ttyUSB0 (web): to talk to the radio",
      'storage: Keeps its data in the volume "data" (worker), kept when it is uninstalled',
    ],
  );
});

test("an interface's port without a bind is published to this node only (the node's proxy is the way in)", () => {
  const needs = describeNeeds(
    manifest({
      containers: { web: { image: "localhost/x:1", ports: [{ container: 80, host: 8080 }] } },
      interfaces: { ui: { container: "web", port: 80 } },
    }),
  );
  assert.deepEqual(
    needs.map((n) => n.text),
    ["Opens port 8080/tcp to this node only"],
  );
});
