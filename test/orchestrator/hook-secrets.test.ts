/**
 * Secrets never leave through hook output (SPEC invariant 4), on real Podman through the
 * orchestrator: hooks of mini-node and mini-explorer print the node's generated RPC password (the
 * explorer gets it as an export of its dependency) and the explorer's own session key — as is,
 * base64 alone and inside a Basic credential, hex — and one of them fails on it. Every line the
 * orchestrator wrote (its log and its events, as the daemon would forward them) and what its store
 * keeps (operation logs, the failed operation's error, the app's reason) holds none of the forms
 * the suite's secrets scan looks for, and names each masked secret instead.
 *
 * The lab records all of it for the suite-wide scan too (test/zz-secrets-scan.test.ts, which
 * requires masked lines from this harness).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { Lab, type TestApp } from "../support/driver.ts";
import { formsIn } from "../support/secret-scan.ts";

/** A shell script printing the value of `expression` in each form. */
const printing = (label: string, expression: string) =>
  [
    `v="${expression}"`,
    `echo "${label}: $v"`,
    `printf %s "$v" | base64`,
    `printf "archy:%s" "$v" | base64`,
    `printf %s "$v" | od -An -tx1 | tr -d ' \\n'; echo`,
  ].join("; ");

async function addHook(lab: Lab, app: TestApp, steps: Array<{ container: string; script: string }>) {
  await lab.editManifest(app, (doc) => {
    (doc.get("hooks") as YAMLMap).set(
      "post_install",
      parseDocument(
        JSON.stringify(
          steps.map(({ container, script }) => ({
            exec: { container, command: ["/bin/sh", "-c", script], timeout: "30s" },
          })),
        ),
      ).contents,
    );
  });
}

test("hook output that prints an app's secrets and a dependency's leaves only masks in logs, events and the store", async () => {
  const lab = await Lab.create();
  try {
    const driver = await lab.driver();
    const node = await lab.app("mini-node");
    const explorer = await lab.app("mini-explorer");
    await addHook(lab, node, [{ container: "node", script: printing("rpc password", "$RPC_PASSWORD") }]);
    await addHook(lab, explorer, [
      {
        container: "explorer",
        script: `${printing("from my dependency", "$RPC_PASSWORD")}; ${printing("mine", "$(cat /run/secrets/session-key)")}`,
      },
      // A failing step: its output becomes the operation's error and the app's reason.
      { container: "explorer", script: 'echo "cannot log in with $RPC_PASSWORD" >&2; exit 3' },
    ]);

    const installed = await driver.call<{ operationId: string }>("install", { path: node.dir });
    const nodeRecord = await driver.operationDone(installed.operationId, 180_000);
    assert.equal(nodeRecord.operation?.state, "succeeded", JSON.stringify(nodeRecord));
    const failing = await driver.call<{ operationId: string }>("install", { path: explorer.dir });
    const explorerRecord = await driver.operationDone(failing.operationId, 180_000);
    assert.equal(explorerRecord.operation?.state, "failed", JSON.stringify(explorerRecord.operation));
    const listed = await driver.app(explorer.id);

    const password = (await lab.secretFiles(node))["rpc-password"] as string;
    const sessionKey = (await lab.secretFiles(explorer))["session-key"] as string;
    assert.ok(password.length >= 12 && sessionKey.length >= 12, "both secrets were generated");

    // What left the orchestrator, and what its store keeps.
    const records = [nodeRecord, explorerRecord];
    const texts = [
      ...driver.messages.map((m) => JSON.stringify(m)),
      ...records.flatMap((r) => r.logs.map((l) => l.message)),
      explorerRecord.operation?.error ?? "",
      listed?.reason ?? "",
    ];
    const all = texts.join("\n");
    for (const [name, value] of [
      ["rpc-password", password],
      ["session-key", sessionKey],
    ] as const) {
      assert.deepEqual(
        formsIn(all, value),
        [],
        `${name} leaked:\n${texts.filter((t) => formsIn(t, value).length > 0).join("\n")}`,
      );
    }

    // Each was there, masked and named: the hooks did print them.
    const nodeMask = `[secret ${node.id}/rpc-password]`;
    const keyMask = `[secret ${explorer.id}/session-key]`;
    const nodeLogs = nodeRecord.logs.map((l) => l.message);
    assert.ok(nodeLogs.includes(`post_install step 1: rpc password: ${nodeMask}`), nodeLogs.join("\n"));
    const explorerLogs = explorerRecord.logs.map((l) => l.message);
    assert.ok(
      explorerLogs.includes(`post_install step 1: from my dependency: ${nodeMask}`),
      explorerLogs.join("\n"),
    );
    assert.ok(explorerLogs.includes(`post_install step 1: mine: ${keyMask}`), explorerLogs.join("\n"));
    // Four lines per value (as is, base64, base64 in a credential, hex): each masked.
    const masked = (logs: string[], mask: string) => logs.filter((l) => l.includes(mask)).length;
    assert.ok(masked(nodeLogs, nodeMask) >= 4, nodeLogs.join("\n"));
    assert.ok(masked(explorerLogs, keyMask) >= 4, explorerLogs.join("\n"));
    assert.match(
      explorerRecord.operation?.error ?? "",
      new RegExp(`cannot log in with ${escapeRegExp(nodeMask)}`),
    );
    assert.match(listed?.reason ?? "", new RegExp(`cannot log in with ${escapeRegExp(nodeMask)}`));
    assert.ok(
      driver.messages.some((m) => m.event?.type === "log" && JSON.stringify(m).includes(nodeMask)),
      "the log events carry the masked lines",
    );
    assert.ok(
      driver.messages.some((m) => m.log !== undefined && (m.message ?? "").includes(nodeMask)),
      "the orchestrator's log carries the masked lines",
    );
  } finally {
    await lab.close();
  }
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
