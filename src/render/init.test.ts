import assert from "node:assert/strict";
import { test } from "node:test";
import { ManifestSchema } from "../manifest/schema.ts";
import { podmanPlan } from "./podman-spec.ts";
import { renderQuadlet } from "./quadlet.ts";

const manifest = (init?: boolean) =>
  ManifestSchema.parse({
    manifest: 1,
    id: "stubborn",
    version: "1.0.0",
    name: "Stubborn",
    description: "Ignores SIGTERM as PID 1.",
    containers: {
      app: { image: "registry.example.org/stubborn:1", ...(init === undefined ? {} : { init }) },
    },
  });
const ctx = { dataRoot: "/srv/archy", dependencies: {} };

test("init: true runs a tiny init as PID 1 on both Podman backends; without it nothing is rendered", () => {
  assert.equal(podmanPlan(manifest(true), ctx).containers[0]?.body.init, true);
  assert.match(
    renderQuadlet(manifest(true), ctx).find((f) => f.path.endsWith(".container"))?.content ?? "",
    /^RunInit=true$/m,
  );
  for (const absent of [undefined, false]) {
    const body = podmanPlan(manifest(absent), ctx).containers[0]?.body;
    assert.ok(
      body && !JSON.stringify(body).includes('"init"'),
      "absent, so earlier spec hashes stay as they were",
    );
    assert.doesNotMatch(
      renderQuadlet(manifest(absent), ctx)
        .map((f) => f.content)
        .join("\n"),
      /RunInit/,
    );
  }
});
