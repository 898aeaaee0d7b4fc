/**
 * Reading back the platform's own `.container` units: the runtime recognises a Quadlet container
 * that is down (its unit removed it) from its unit file alone, so what the renderer writes must
 * read back as the labels the container would carry.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { loadSample } from "../../test/support/samples.ts";
import { ManifestSchema } from "../manifest/schema.ts";
import { podmanPlan } from "./podman-spec.ts";
import { quadletWord, readContainerUnit, readQuadletWord, renderQuadlet } from "./quadlet.ts";

describe("reading Quadlet units back", () => {
  test("every word quadletWord writes reads back as itself", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (value) => {
        assert.equal(readQuadletWord(quadletWord(value)), value);
      }),
      { numRuns: 2_000 },
    );
    for (const value of ["a=b", "50%", "$HOME", 'say "hi"', "back\\slash", "tab\there", "x\ny", "é\u0001"])
      assert.equal(readQuadletWord(quadletWord(value)), value);
  });

  test("a rendered container unit reads back as its container's name, image and labels", async () => {
    const notes = await loadSample("notes");
    const ctx = { dataRoot: "/var/lib/archipelago", dependencies: {} };
    const units = renderQuadlet(notes, ctx);
    for (const container of podmanPlan(notes, ctx).containers) {
      const file = `${container.name}.container`;
      const unit = units.find((u) => u.path === file);
      assert.ok(unit, `no unit ${file}`);
      const read = readContainerUnit(file, unit.content);
      assert.equal(read.containerName, container.name);
      assert.equal(read.image, container.body.image);
      assert.deepEqual(read.labels, container.body.labels);
    }
  });

  test("a hand-written unit: Quadlet's default name, labels outside [Container] ignored", () => {
    const read = readContainerUnit(
      "handmade.container",
      '[Unit]\nLabel=not=this\n\n[Container]\nImage=busybox\nLabel=a=1\nLabel="b=two words"\n\n[Install]\nWantedBy=default.target\n',
    );
    assert.deepEqual(read, {
      containerName: "systemd-handmade",
      image: "busybox",
      labels: { a: "1", b: "two words" },
    });
  });
});

describe("jobs", () => {
  test("a job's unit does not start at boot, and its dependant is ordered after it without requiring it (no rerun at boot)", () => {
    const manifest = ManifestSchema.parse({
      manifest: 1,
      id: "keyring",
      version: "1.0.0",
      name: "Keyring",
      description: "A test app.",
      containers: {
        migrate: { image: "registry.example.org/keyring:1", job: true },
        worker: { image: "registry.example.org/keyring:1", depends_on: { migrate: "completed" } },
      },
    });
    const units = renderQuadlet(manifest, { dataRoot: "/var/lib/archipelago", dependencies: {} });
    const unit = (name: string) => units.find((u) => u.path === `${name}.container`)?.content ?? "";
    assert.ok(!unit("keyring--migrate").includes("[Install]"), unit("keyring--migrate"));
    const worker = unit("keyring--worker");
    assert.match(worker, /^After=keyring--migrate\.service$/m);
    assert.doesNotMatch(worker, /^Requires=keyring--migrate/m);
    assert.match(worker, /^WantedBy=default\.target$/m);
  });
});
