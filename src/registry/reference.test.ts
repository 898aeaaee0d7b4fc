import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { locateImage, registryOf } from "./reference.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("registryOf", () => {
  test("the first part when it names a host, else Docker Hub", () => {
    assert.equal(registryOf("nginx:1"), "docker.io");
    assert.equal(registryOf("library/nginx"), "docker.io");
    assert.equal(registryOf("ghcr.io/o/r:1"), "ghcr.io");
    assert.equal(registryOf(`127.0.0.1:5000/a/b@sha256:${"0".repeat(64)}`), "127.0.0.1:5000");
    assert.equal(registryOf("localhost/x:1"), "localhost");
  });
});

describe("locateImage", () => {
  test("a reference becomes the registry's API host, the repository and the digest or tag", () => {
    assert.deepEqual(locateImage(`127.0.0.1:5000/archy/web:1@${DIGEST}`), {
      registry: "127.0.0.1:5000",
      apiHost: "127.0.0.1:5000",
      repository: "archy/web",
      reference: DIGEST,
    });
    assert.deepEqual(locateImage("ghcr.io/o/r:2.1"), {
      registry: "ghcr.io",
      apiHost: "ghcr.io",
      repository: "o/r",
      reference: "2.1",
    });
  });

  test("Docker Hub's short names: its API host, library/ for official images, latest when no tag", () => {
    assert.deepEqual(locateImage("nginx"), {
      registry: "docker.io",
      apiHost: "registry-1.docker.io",
      repository: "library/nginx",
      reference: "latest",
    });
    assert.equal(locateImage("docker.io/grafana/grafana:11").repository, "grafana/grafana");
    assert.equal(locateImage("localhost:5000/x").reference, "latest", "a port is not a tag");
  });
});
