import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { manifestBytes, parseChallenge, platformManifest } from "./image-size.ts";

describe("manifestBytes", () => {
  test("the config and every layer, compressed", () => {
    assert.equal(
      manifestBytes({ config: { size: 100 }, layers: [{ size: 1_000 }, { size: 20_000 }] }),
      21_100,
    );
  });

  test("a manifest without sizes is no answer", () => {
    assert.throws(() => manifestBytes({ config: { size: 1 }, layers: [{}] }), /no size/);
    assert.throws(() => manifestBytes({ layers: [] }), /no config or layers/);
  });
});

describe("platformManifest", () => {
  test("the index's manifest for linux on this node's architecture", () => {
    const index = {
      manifests: [
        { digest: "sha256:arm", platform: { os: "linux", architecture: "arm64" } },
        { digest: "sha256:win", platform: { os: "windows", architecture: "amd64" } },
        { digest: "sha256:amd", platform: { os: "linux", architecture: "amd64" } },
      ],
    };
    assert.equal(platformManifest(index, "x64")?.digest, "sha256:amd");
    assert.equal(platformManifest(index, "arm64")?.digest, "sha256:arm");
    assert.equal(platformManifest(index, "riscv64"), undefined);
  });
});

describe("parseChallenge", () => {
  test("Bearer with its realm and service; Basic with its realm", () => {
    assert.deepEqual(
      parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'),
      { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" } },
    );
    assert.deepEqual(parseChallenge('Basic realm="archy-test"'), {
      scheme: "basic",
      params: { realm: "archy-test" },
    });
  });
});
