// biome-ignore-all lint/suspicious/noTemplateCurlyInString: env files write their references as ${namespace:name}
/**
 * A container's `env_file` on the real rootless Podman, through the stand-in daemon: the file is
 * read from the app directory at install and stored with the app, its values rendered as
 * `environment` values are (a `${secret:…}` reference gets the generated secret), `environment`
 * wins over it; a change to the file on disk reaches the container only through an update, never
 * by a restart.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { type Driver, Lab, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;
let app: TestApp;

async function succeeded(operationId: string, timeoutMs = 120_000): Promise<void> {
  const record = await driver.operationDone(operationId, timeoutMs);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
}

/** hello-web with `env_file: [config/web.env]`, a generated secret, and `version` if given. */
function withEnvFile(dir: string, version?: string): void {
  const path = join(dir, "manifest.yml");
  const doc = parseDocument(readFileSync(path, "utf8"));
  if (version) doc.set("version", version);
  doc.set("secrets", doc.createNode({ "api-key": { length: 24 } }));
  const web = doc.getIn(["containers", "web"]) as YAMLMap;
  web.set("env_file", doc.createNode(["config/web.env"]));
  writeFileSync(path, doc.toString(), { mode: 0o644 });
}

const envText = (greeting: string) =>
  [
    "# written by the packager",
    `FROM_FILE=${greeting}`,
    'QUOTED="with spaces"',
    "API_URL=https://k:${secret:api-key}@api.example/${app:id}",
    "GREETING=the file's, overridden by environment",
    "",
  ].join("\n");

const seenEnv = () =>
  lab.exec(app.names.web as string, 'printf "%s\\n" "$FROM_FILE" "$QUOTED" "$API_URL" "$GREETING"');

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  app = await lab.app("hello-web");
  withEnvFile(app.dir);
  mkdirSync(join(app.dir, "config"), { recursive: true, mode: 0o755 });
  writeFileSync(join(app.dir, "config/web.env"), envText("first"), { mode: 0o644 });
  await succeeded((await driver.call<{ operationId: string }>("install", { path: app.dir })).operationId);
});

after(async () => {
  await lab?.close();
});

describe("real Podman: env_file", () => {
  test("the container sees the file's values, its ${secret:…} rendered, environment winning", async () => {
    const key = (await lab.secretFiles(app))["api-key"];
    assert.ok(key, "the generated secret exists");
    assert.deepEqual((await seenEnv()).split("\n").slice(0, 4), [
      "first",
      "with spaces",
      `https://k:${key}@api.example/${app.id}`,
      "Hello from Archipelago",
    ]);
    // The secret-bearing value is a Podman secret of its own, as an `environment` value's is
    // (what `podman inspect` then shows depends on the Podman version: docs/manifest.md).
    const names = await lab.podmanSecrets();
    assert.equal(names.filter((n) => n.startsWith(`archy-${app.id}_env.`)).length, 1, names.join("\n"));
  });

  test("the file as stored is what runs: a change on disk reaches the container by an update only", async () => {
    writeFileSync(join(app.dir, "config/web.env"), envText("second"), { mode: 0o644 });
    await succeeded((await driver.call<{ operationId: string }>("restart", { app: app.id })).operationId);
    assert.equal((await seenEnv()).split("\n")[0], "first", "a restart re-read the file on disk");
    withEnvFile(app.dir, "1.2.0-r1");
    await succeeded((await driver.call<{ operationId: string }>("update", { path: app.dir })).operationId);
    assert.equal((await seenEnv()).split("\n")[0], "second", "the update did not take the new file");
  });
});
