/**
 * On a real node (scripts/systemd-node: Debian 13, systemd as PID 1, rootless Podman 5.4 with
 * Quadlet), the rendered Quadlet unit of a container whose command and environment hold every word
 * that means something to Quadlet or systemd runs with them exactly as the manifest says: an empty
 * argument (Quadlet drops it), a lone `;` (systemd would start a second command), `%` specifiers,
 * `$` variables, quotes, backslashes, spaces and a line break. The generator test reads the
 * generated command line as systemd would; this one has systemd run it.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { parseManifest } from "../../src/manifest/parse.ts";
import { renderQuadlet } from "../../src/render/quadlet.ts";
import { CommandUnitStore, NODE_QUADLET_DIR, nodeRunner } from "../support/node-systemd.ts";
import { NODE_USER, type SystemdNode, startNode } from "../support/systemd-node.ts";

const isRoot = process.getuid?.() === 0;
const APP = "hostile-words";

const ARGUMENTS = [
  "",
  ";",
  "%h",
  "%%",
  "$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that systemd must not expand
  "${PATH}",
  "$$",
  "a b",
  'q"uote',
  "it's",
  "back\\slash",
  "new\nline",
];
// biome-ignore lint/suspicious/noTemplateCurlyInString: literal ${...} that systemd must not expand
const VALUE = "100% of $HOME and ${PATH}; \"double\" 'single' \\ and a\ttab";
/** The container prints each argument between brackets, then the variable, then waits to be read. */
const SCRIPT = 'printf "<%s>" "$@"; printf "\\nTRICKY<%s>\\n" "$TRICKY"; exec sleep 600';

describe("systemd node: a Quadlet unit runs hostile words as written", {
  skip: isRoot ? false : "needs root (the node is a privileged container)",
}, () => {
  let node: SystemdNode;
  before(
    async () => {
      node = await startNode();
    },
    { timeout: 900_000 },
  );
  after(async () => {
    await node?.destroy();
  });

  test("the container gets every argument and the environment value unchanged", {
    timeout: 300_000,
  }, async () => {
    const text = [
      "manifest: 1",
      `id: ${APP}`,
      "version: 1.0.0",
      "name: 100% $HOME; words",
      "description: Words that mean something to Quadlet and systemd",
      "containers:",
      "  main:",
      `    image: ${TEST_IMAGE}`,
      `    command: ${JSON.stringify(["/bin/sh", "-c", SCRIPT, "sh", ...ARGUMENTS])}`,
      // A manifest writes a literal ${ as $${ (interpolation.ts); the process sees ${.
      `    environment: { TRICKY: ${JSON.stringify(VALUE.replaceAll("${", () => "$${"))} }`,
      "",
    ].join("\n");
    const parsed = parseManifest(text, "hostile-words.yml");
    assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.issues));
    const store = new CommandUnitStore(nodeRunner(node), NODE_QUADLET_DIR);
    const ctx = { dataRoot: `/home/${NODE_USER}/.local/share/archipelago`, dependencies: {} };
    for (const file of renderQuadlet(parsed.manifest, ctx)) await store.write(file.path, file.content);
    await node.mustUser(["systemctl", "--user", "daemon-reload"]);
    await node.mustUser(["systemctl", "--user", "start", `${APP}.service`], { timeoutMs: 180_000 });

    const expected = `${ARGUMENTS.map((a) => `<${a}>`).join("")}\nTRICKY<${VALUE}>\n`;
    let logs = "";
    for (let attempt = 0; attempt < 60 && !logs.includes("TRICKY<"); attempt++) {
      logs = (await node.execUser(["podman", "logs", APP])).stdout;
      if (!logs.includes("TRICKY<")) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(
      logs,
      expected,
      `the container's output (waited for a TRICKY line, saw ${JSON.stringify(logs)})`,
    );
    await node.mustUser(["systemctl", "--user", "stop", `${APP}.service`], { timeoutMs: 120_000 });
  });
});
