import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, withLines } from "../../test/support/manifest-text.ts";
import { renderKubeWithWarnings } from "../render/kube.ts";
import { podmanPlan } from "../render/podman-spec.ts";
import { renderQuadlet } from "../render/quadlet.ts";

const ctx = { dataRoot: "/var/lib/archipelago", dependencies: {} };

describe("shm_size and ulimits", () => {
  test("parse to bytes and { soft, hard }; render on every target", () => {
    const { manifest } = expectValid(
      withLines(
        "    shm_size: 256m",
        "    ulimits:",
        "      nproc: 4096",
        "      nofile: { soft: 1024, hard: 2048 }",
      ),
    );
    assert.equal(manifest.containers.web?.shm_size, 256 * 1024 * 1024);
    assert.deepEqual(manifest.containers.web?.ulimits, {
      nproc: { soft: 4096, hard: 4096 },
      nofile: { soft: 1024, hard: 2048 },
    });
    const body = podmanPlan(manifest, ctx).containers[0]?.body;
    assert.equal(body?.shm_size, 268435456);
    assert.deepEqual(body?.r_limits, [
      { type: "nofile", soft: 1024, hard: 2048 },
      { type: "nproc", soft: 4096, hard: 4096 },
    ]);
    const unit = renderQuadlet(manifest, ctx).find((f) => f.path === "hello.container")?.content ?? "";
    assert.ok(unit.includes("PodmanArgs=--shm-size=268435456"), unit);
    assert.ok(unit.includes("PodmanArgs=--ulimit=nofile=1024:2048"), unit);
    const kube = renderKubeWithWarnings(manifest, ctx);
    const yaml = kube.files[0]?.content ?? "";
    assert.match(yaml, /mountPath: \/dev\/shm/);
    assert.match(yaml, /medium: Memory\n\s+sizeLimit: 256Mi/);
    assert.ok(
      kube.warnings.some((w) => w.field === "containers.web.ulimits" && /nofile 1024:2048/.test(w.message)),
      JSON.stringify(kube.warnings),
    );
  });

  test("a container without them renders as before (no spec change for installed apps)", () => {
    const body = podmanPlan(expectValid(withLines()).manifest, ctx).containers[0]?.body;
    assert.ok(body && !("shm_size" in body && body.shm_size !== undefined) && body.r_limits === undefined);
  });

  test("limits.ulimit: a soft limit above the hard one", () => {
    expectIssue(withLines("    ulimits:", "      nofile: { soft: 4096, hard: 1024 }"), {
      rule: "limits.ulimit",
      path: "containers.web.ulimits.nofile",
      line: FIRST + 1,
      column: 15,
      message: "the soft limit (4096) is above the hard limit (1024)",
      fix: "lower soft to at most 1024",
    });
  });

  test("schema.key: a limit Linux does not have, with the names it has", () => {
    expectIssue(withLines("    ulimits:", "      nofiles: 1024"), {
      rule: "schema.key",
      path: "containers.web.ulimits.nofiles",
      line: FIRST + 1,
      column: 7,
      message: '"nofiles" is not a resource limit',
      fix: 'did you mean "nofile"?',
    });
  });

  test("limits.shm-size: larger than 1024g, or /dev/shm also a tmpfs", () => {
    expectIssue(withLines("    shm_size: 2000g"), {
      rule: "limits.shm-size",
      path: "containers.web.shm_size",
      line: FIRST,
      column: 15,
      message: "2000g is more than the 1024g",
      fix: "use at most 1024g",
    });
    expectIssue(withLines("    shm_size: 1g", "    tmpfs: [/dev/shm]"), {
      rule: "limits.shm-size",
      path: "containers.web.shm_size",
      line: FIRST,
      column: 15,
      message: "/dev/shm is also a `tmpfs`",
      fix: "remove /dev/shm from `tmpfs`",
    });
  });
});
