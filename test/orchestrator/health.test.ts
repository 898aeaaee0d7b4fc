/**
 * Health without churn, on the real rootless Podman through the stand-in daemon: a probe that is
 * slow and fails now and then (never `retries` times in a row) never causes a restart; a container
 * that turns unhealthy is restarted — the same container, again and again, with growing delays; a
 * container that crashes as it starts ends in `failed` with its last output as the reason, after a
 * bounded number of attempts, not restarting forever.
 *
 * Each test has its own lab (Podman service, driver, directories), so they run side by side.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { describe, test } from "node:test";
import { parseDocument, type YAMLMap } from "yaml";
import { tcpConnect } from "../../src/system/tcp.ts";
import { type Driver, eventually, Lab, sleep, type TestApp } from "../support/driver.ts";
import { waitFor } from "../support/wait.ts";

async function inLab(work: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await Lab.create();
  try {
    await work(lab);
  } finally {
    await lab.close();
  }
}

/** hello-web with its web container edited by `edit` (after the lab's test settings). */
async function helloWith(lab: Lab, edit: (web: YAMLMap) => void): Promise<TestApp> {
  const app = await lab.app("hello-web");
  await lab.editManifest(app, (doc) => edit(doc.getIn(["containers", "web"]) as YAMLMap));
  return app;
}

/** An exec health check, probing every second with three failures in a row to be unhealthy. */
function execHealth(web: YAMLMap, script: string, timing = { interval: "1s", timeout: "900ms" }): void {
  const doc = parseDocument(
    JSON.stringify({
      type: "exec",
      command: ["/bin/sh", "-c", script],
      ...timing,
      retries: 3,
      start_period: "1s",
    }),
  );
  web.set("health", doc.contents);
}

/** The process listening on a TCP port of the host (from /proc: no `ss` needed). */
function listenerPid(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"])
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && fields[9]) inodes.add(fields[9]);
    }
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const target = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })();
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return Number(pid);
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** The lines the daemon logged about an app matching `pattern`. */
function logged(driver: Driver, app: TestApp, pattern: RegExp): string[] {
  return driver.messages
    .map((m) => (m as { message?: string }).message ?? "")
    .filter((line) => line.startsWith(`${app.id}: `) && pattern.test(line));
}

describe("real Podman: health without churn", { concurrency: 3 }, () => {
  test("a slow probe that fails now and then, never three times in a row, causes no restart", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver({ healthRestartBaseMs: 1_000 });
      // Each probe takes over 0.5 s and one in three fails (a loaded host's probe). The time limit
      // leaves room for the suite's own load: a probe timing out on top would fail twice in a row.
      const app = await helloWith(lab, (web) =>
        execHealth(
          web,
          "sleep 0.5; n=$(cat /tmp/probes 2>/dev/null || echo 0); echo $((n + 1)) > /tmp/probes; [ $((n % 3)) -ne 1 ]",
          { interval: "2s", timeout: "1800ms" },
        ),
      );
      const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
      await driver.operationDone(accepted.operationId, 90_000);
      await driver.waitPhase(app.id, "running", 60_000);
      const before = await lab.inspect(app.names.web as string);
      assert.ok(before?.running, `${app.names.web} runs`);
      // Nine probes: three of their failures, none two in a row (however long a busy machine takes).
      let probes = 0;
      await waitFor(
        async () => {
          probes = Number((await lab.exec(app.names.web as string, "cat /tmp/probes")).trim());
          return probes >= 9;
        },
        { what: "nine probes of web", timeoutMs: 120_000, intervalMs: 1_000, seen: () => `${probes} probes` },
      );
      const after = await lab.inspect(app.names.web as string);
      assert.equal(after?.id, before?.id, "the same container");
      assert.equal(after?.startedAt, before?.startedAt, "never restarted");
      assert.deepEqual(logged(driver, app, /is unhealthy/), []);
      assert.equal((await driver.app(app.id))?.phase, "running");
    });
  });

  test("a container that turns unhealthy is restarted, with growing delays between restarts", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver({ healthRestartBaseMs: 4_000 });
      // Healthy for 2 s after each start, then broken until restarted (/tmp is a fresh tmpfs each start).
      const app = await helloWith(lab, (web) => {
        web.set("command", [
          "mkdir -p /data/www && { [ -f /data/www/index.html ] || cp /www/index.html /data/www/; } && (sleep 2; touch /tmp/broken) & exec serve",
        ]);
        execHealth(web, "echo probing; test ! -e /tmp/broken");
      });
      const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
      await driver.operationDone(accepted.operationId, 90_000);
      const first = await lab.inspect(app.names.web as string);
      assert.ok(first?.running);

      const starts = new Set<string>([first.startedAt]);
      const seenAt: number[] = [];
      await eventually(
        "four restarts for health",
        async () => {
          const now = await lab.inspect(app.names.web as string);
          if (now?.running && !starts.has(now.startedAt)) {
            starts.add(now.startedAt);
            seenAt.push(Date.parse(now.startedAt));
          }
          return starts.size >= 5 ? true : undefined;
        },
        120_000,
        250,
      );
      const after = await lab.inspect(app.names.web as string);
      assert.equal(after?.id, first.id, "restarted, not recreated");
      // Podman's RestartCount stays 0 (the daemon restarts it, not a restart policy): the count the
      // operator sees is the daemon's, from its observations.
      let stored: number | undefined;
      await eventually(
        "the stored observation counts the four restarts",
        async () => {
          stored = (await driver.app(app.id))?.containers.find((c) => c.key === "web")?.restarts;
          return stored !== undefined && stored >= 4 ? true : undefined;
        },
        60_000,
        250,
      );
      const lines = logged(driver, app, /web is unhealthy/);
      assert.ok(lines.length >= 4, lines.join("\n"));
      assert.match(
        lines[0] as string,
        /last probe: probing.*restart 1 since it was last healthy; another would wait 4 s/,
      );
      assert.match(lines[2] as string, /restart 3 since it was last healthy; another would wait 16 s/);
      // A cycle takes ~7 s by itself (2 s healthy, 3 failed probes, the start): the delays of 4 and
      // 8 s hide in it, the 16 s one before the fourth restart shows. A lower bound only: a busy
      // machine makes a cycle longer, never shorter (the margin: one restart's stop and start may
      // take a few seconds longer than the other's).
      const gaps = seenAt.slice(1).map((at, i) => at - (seenAt[i] as number));
      assert.ok((gaps[2] as number) >= 13_000, `the fourth restart waited its 16 s: ${gaps}`);
      // It keeps turning unhealthy: between restarts it runs, during one it is restarting; never failed.
      const phase = (await driver.app(app.id))?.phase;
      assert.ok(
        phase === "running" || phase === "restarting",
        `restarts for health do not fail the app: ${phase}`,
      );
    });
  });

  test("a published port whose forwarding died is noticed from the host, and the container restarted", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver();
      const app = await helloWith(lab, (web) => execHealth(web, "true"));
      const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
      await driver.operationDone(accepted.operationId, 90_000);
      await driver.waitPhase(app.id, "running", 60_000);
      const port = app.ports["web/8080"] as number;
      const before = await lab.inspect(app.names.web as string);
      assert.ok((await tcpConnect("127.0.0.1", port, 2_000)).ok, "the port answers at first");
      // Rootless Podman's port forwarder for it dies; the process inside still serves.
      process.kill(listenerPid(port), "SIGKILL");
      await eventually("the forwarder is gone", async () => !(await tcpConnect("127.0.0.1", port, 1_000)).ok);
      await eventually(
        "the port answers again",
        async () => (await tcpConnect("127.0.0.1", port, 1_000)).ok,
        60_000,
      );
      const after = await lab.inspect(app.names.web as string);
      assert.equal(after?.id, before?.id, "the same container");
      assert.notEqual(after?.startedAt, before?.startedAt, "restarted");
      assert.ok(
        logged(driver, app, /refuses connections on the host/).length > 0,
        driver.messages.join("\n"),
      );
    });
  });

  test("a container that crashes as it starts ends in failed, with its last output as the reason", async () => {
    await inLab(async (lab) => {
      const driver = await lab.driver({ backoffBaseMs: 500 });
      const app = await helloWith(lab, (web) => {
        web.set("command", ["echo 'reading /data/app.conf'; echo 'fatal: app.conf is missing' >&2; exit 3"]);
      });
      const accepted = await driver.call<{ operationId: string }>("install", { path: app.dir });
      const record = await driver.operationDone(accepted.operationId, 120_000);
      assert.equal(record.operation?.state, "failed", JSON.stringify(record.operation));
      const error = record.operation?.error ?? "";
      assert.match(error, /exited right after it was started \(exit code 3\)/);
      assert.match(error, /reading \/data\/app\.conf\nfatal: app\.conf is missing/, error);
      const listed = await driver.app(app.id);
      assert.equal(listed?.phase, "failed");
      assert.match(listed?.reason ?? "", /fatal: app\.conf is missing/);
      const retries = record.logs.filter((l) => /retrying in/.test(l.message));
      assert.equal(retries.length, 4, "five attempts in all, then failed");
      // Not restarted forever: it stays down.
      await sleep(3_000);
      const web = await lab.inspect(app.names.web as string);
      assert.equal(web?.running ?? false, false);
      assert.equal((await driver.app(app.id))?.phase, "failed");
    });
  });
});
