/**
 * The daemon's backend on a node without Quadlet (the test machines: Debian 12's Podman 4.3, no
 * systemd): `auto` creates plain containers and says why, in its log and in `system.info`;
 * `--backend quadlet` does not start at all — one line saying what is missing and the fix, and
 * nothing created — instead of retrying "cannot connect to Podman" forever. The same choice on the
 * systemd test node, where it picks Quadlet, is test/ops/quadlet-daemon.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DaemonConfig } from "../../src/daemon/config.ts";
import { runDaemon } from "../../src/daemon/daemon.ts";
import {
  BackendUnavailable,
  type QuadletFacts,
  quadletMissing,
  readQuadletFacts,
} from "../../src/runtime/backend-choice.ts";
import { defaultRuntimeDir } from "../../src/runtime/service.ts";
import { localRunner, SystemdUser } from "../../src/runtime/systemd.ts";
import { runAsTestUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { stageForTestUser } from "../support/stage.ts";
import { ok, startDaemon } from "./support.ts";

let facts: QuadletFacts;
let missing: string[] = [];

before(async () => {
  facts = await readQuadletFacts({
    user: userInfo().username,
    systemd: new SystemdUser(localRunner(defaultRuntimeDir())),
  });
  missing = quadletMissing(facts);
});

const onPlainHost = (t: { skip: (why: string) => void }) => {
  if (missing.length === 0) {
    t.skip("this machine has everything Quadlet needs (the systemd node test covers it)");
    return false;
  }
  return true;
};

describe("the backend on a node without Quadlet", () => {
  test("auto: plain Podman, and the log and system.info say what Quadlet lacks here", async (t) => {
    if (!onPlainHost(t)) return;
    const d = await startDaemon({ backend: "auto" });
    try {
      const info = (await ok(d.port, "system.info", {}, {})) as { backend: string; backendReason: string };
      assert.match(info.backendReason, /^plain Podman, chosen by auto: Quadlet is not available \(/);
      for (const lack of missing)
        assert.ok(info.backendReason.includes(lack), `${info.backendReason}\nlacks: ${lack}`);
      const logged = d.logs.find((line) =>
        line.includes("creating new containers with plain Podman, chosen by auto"),
      );
      assert.ok(logged, d.logs.join(""));
      assert.equal(JSON.parse(logged).backend, "podman");
      if (/Podman 4\.3/.test(missing.join(" ")))
        assert.match(info.backendReason, /Podman 4\.3\.\d+ has no Quadlet: upgrade to Podman 4\.4 or later/);
    } finally {
      await d.close();
    }
  });

  test("--backend quadlet: runDaemon refuses at once, with what is missing, and creates nothing", async (t) => {
    if (!onPlainHost(t)) return;
    const dir = mkdtempSync(join(tmpdir(), "archy-backend-"));
    try {
      const config: DaemonConfig = {
        dataDir: join(dir, "data"),
        listen: { host: "127.0.0.1", port: 0 },
        appsDir: undefined,
        backend: "quadlet",
        backendOrigin: "--backend quadlet",
        podmanSocket: join(dir, "no-podman.sock"),
        allowedHosts: [],
        resyncMs: 60_000,
        logLevel: "error",
        catalogs: [],
        catalogRefreshMs: 3_600_000,
      };
      await assert.rejects(runDaemon(config, { destination: { write: () => {} } }), (error: unknown) => {
        assert.ok(error instanceof BackendUnavailable, String(error));
        assert.match(
          error.message,
          /^--backend quadlet: the Quadlet backend is not available on this node: /,
        );
        for (const lack of missing)
          assert.ok(error.message.includes(lack), `${error.message}\nlacks: ${lack}`);
        assert.match(error.message, /Fix that, or use --backend podman/);
        return true;
      });
      assert.equal(existsSync(config.dataDir), false, "the data directory was created");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("archy daemon --backend quadlet on a node without Quadlet (the real CLI, as the test user)", () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join("/tmp", "archy-backend-cli-"));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const [how, args, env] of [
    ["--backend quadlet", ["--backend", "quadlet"], []],
    ["ARCHY_BACKEND=quadlet", [], ["env", "ARCHY_BACKEND=quadlet"]],
  ] as const)
    test(`${how}: exit 2 with one line (what is missing, the fix), no stack, no data directory`, async () => {
      const staged = stageForTestUser();
      const dataDir = join(work, how.replace(/\W+/g, "-"));
      // A daemon that kept retrying would run until this time limit kills it (exit 124).
      const run = await runAsTestUser(
        [
          ...env,
          staged.node,
          "--disable-warning=ExperimentalWarning",
          join(staged.dir, "src/cli/main.ts"),
          "daemon",
          ...args,
          "--data-dir",
          dataDir,
          "--listen",
          `127.0.0.1:${await freePort()}`,
        ],
        { timeoutMs: 120_000 },
      );
      if (/as configured/.test(run.stderr)) return; // the test user has Quadlet: nothing to refuse
      assert.equal(run.code, 2, `exit code\n${run.stdout}\n${run.stderr}`);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0] as string,
        new RegExp(
          `^archy: ${how}: the Quadlet backend is not available on this node: .+\\. Fix that, or use --backend podman \\(or auto, which picks plain Podman here\\)$`,
        ),
      );
      assert.equal(run.stdout, "");
      assert.equal(existsSync(dataDir), false, "the data directory was created");
    });
});
