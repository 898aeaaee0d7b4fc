// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests write their references as ${namespace:name}
/**
 * Interpolated environment values on the real rootless Podman, through the stand-in daemon: a
 * container sees `DATABASE_URL` with the app's generated secret and its dependency's exports in
 * it, rendered by the daemon into a Podman secret of its own, while `archy app render` of the same
 * app shows only references; purge removes that Podman secret with the app's others.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { archy, show } from "../support/daemon-process.ts";
import { type Driver, Lab, type TestApp } from "../support/driver.ts";

let lab: Lab;
let driver: Driver;
let node: TestApp;
let explorer: TestApp;

async function succeeded(operationId: string, timeoutMs = 120_000): Promise<void> {
  const record = await driver.operationDone(operationId, timeoutMs);
  assert.equal(record.operation?.state, "succeeded", `${record.operation?.error}\n${driver.tail()}`);
}

before(async () => {
  lab = await Lab.create();
  driver = await lab.driver();
  node = await lab.app("mini-node");
  const nodeId = node.id;
  explorer = await lab.app("mini-explorer", {
    env: {
      explorer: {
        DATABASE_URL: `postgres://u:\${secret:session-key}@\${export:${nodeId}/host}/\${app:id}`,
        NODE_URL: `http://\${export:${nodeId}/rpc-user}:\${export:${nodeId}/rpc-password}@\${export:${nodeId}/host}:\${export:${nodeId}/rpc-port}/`,
        NOT_A_REFERENCE: "$${secret:session-key}",
      },
    },
  });
  for (const app of [node, explorer])
    await succeeded((await driver.call<{ operationId: string }>("install", { path: app.dir })).operationId);
});

after(async () => {
  await lab?.close();
});

describe("real Podman: interpolated environment values", () => {
  test("the container sees DATABASE_URL with the generated secret and the dependency's exports in it", async () => {
    const own = (await lab.secretFiles(explorer))["session-key"];
    const rpc = (await lab.secretFiles(node))["rpc-password"];
    assert.ok(own && rpc, "the generated secrets exist");
    const seen = await lab.exec(
      explorer.names.explorer as string,
      'printf "%s\\n" "$DATABASE_URL" "$NODE_URL" "$NOT_A_REFERENCE"',
    );
    assert.deepEqual(seen.split("\n").slice(0, 3), [
      `postgres://u:${own}@${node.names.node}/${explorer.id}`,
      `http://archy:${rpc}@${node.names.node}:8332/`,
      "${secret:session-key}",
    ]);
    // Delivered as a Podman secret of its own, never written into the container's create spec.
    const names = await lab.podmanSecrets();
    assert.equal(names.filter((n) => n.startsWith(`archy-${explorer.id}_env.`)).length, 2, names.join("\n"));
  });

  test("archy app render shows references, never the values, on every target", async () => {
    const own = (await lab.secretFiles(explorer))["session-key"] as string;
    const rpc = (await lab.secretFiles(node))["rpc-password"] as string;
    for (const target of ["podman", "quadlet", "kube"]) {
      const run = await archy(["app", "render", explorer.dir, "--target", target]);
      assert.equal(run.code, 0, show(run));
      assert.ok(!run.stdout.includes(own) && !run.stdout.includes(rpc), `${target} shows a secret value`);
      const reference =
        target === "podman"
          ? `"DATABASE_URL": "archy-${explorer.id}_env.`
          : target === "quadlet"
            ? `# DATABASE_URL=postgres://u:\${secret:session-key}@\${export:${node.id}/host}/\${app:id}`
            : `value: postgres://u:$(ARCHY_SECRET_`;
      assert.ok(run.stdout.includes(reference), `${target} render lacks ${reference}:\n${run.stdout}`);
    }
    assert.equal(dirname(explorer.dir), dirname(node.dir), "render finds the dependency beside the app");
  });

  test("purge removes the Podman secrets of rendered values, those of earlier values included", async () => {
    // A stand-in for the secret of a value the app had before an update (another hash).
    const earlier = join(lab.root, "earlier-value");
    writeFileSync(earlier, "postgres://old", { mode: 0o644 });
    await lab.podman(["secret", "create", `archy-${explorer.id}_env.00000000`, earlier]);
    await driver.call("uninstall", { app: explorer.id, purge: true });
    await driver.waitPhase(explorer.id, "removed", 60_000);
    const names = await lab.podmanSecrets();
    assert.deepEqual(
      names.filter((n) => n.startsWith(`archy-${explorer.id}_`)),
      [],
      "no Podman secret of the explorer is left",
    );
  });
});
