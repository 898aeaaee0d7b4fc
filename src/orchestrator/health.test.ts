/**
 * Health verdicts with hysteresis: failures in the start period never count, `retries` consecutive
 * failures make a container unhealthy, one success heals; and the monitor that probes on a schedule.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseManifest } from "../manifest/parse.ts";
import type { HealthSpec } from "../manifest/schema.ts";
import type { ObservedContainer } from "../runtime/observed.ts";
import {
  afterProbe,
  HealthMonitor,
  type HostEndpoint,
  type ProbeOutcome,
  type ProbeRecord,
  probeDue,
  publishedEndpoints,
} from "./health.ts";
import type { Health } from "./planner.ts";

/** A health check as the manifest parser yields it (durations in ms). */
function spec(fields: string): HealthSpec {
  const text = `manifest: 1
id: probe-test
version: 1.0.0
name: Probe test
description: A test app
containers:
  web:
    image: docker.io/library/nginx:1.27
    health:
      type: exec
      command: [/bin/true]
${fields
  .split("\n")
  .map((l) => `      ${l}`)
  .join("\n")}
`;
  const parsed = parseManifest(text, "probe.yml");
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return parsed.manifest.containers.web?.health as HealthSpec;
}

const SPEC = spec("interval: 1s\ntimeout: 500ms\nretries: 3\nstart_period: 10s");
const START = 1_000_000;

const fresh = (): ProbeRecord => ({
  containerId: "c1",
  startedAt: START,
  health: "starting",
  consecutiveFailures: 0,
  lastProbeAt: undefined,
  lastOutput: undefined,
  notRun: 0,
  lastNotRun: undefined,
});

/** A probe's result as a test writes it: passed, failed, or could not run. */
type Result = boolean | "not-run";

const outcomeOf = (result: Result): ProbeOutcome =>
  result === "not-run"
    ? { outcome: "not-run", output: "Podman is not answering" }
    : { outcome: result ? "pass" : "fail", output: result ? "ok" : "fail" };

/** Runs probes (time offset from the start, result) and returns the verdict after each. */
function run(probes: Array<[number, Result]>, s: HealthSpec = SPEC, start = fresh()): ProbeRecord[] {
  const out: ProbeRecord[] = [];
  let record = start;
  for (const [offset, result] of probes) {
    record = afterProbe(record, outcomeOf(result), s, START + offset);
    out.push(record);
  }
  return out;
}

const verdicts = (records: ProbeRecord[]) => records.map((r) => r.health);

describe("afterProbe", () => {
  test("the manifest's durations arrive in ms", () => {
    assert.deepEqual([SPEC.interval, SPEC.timeout, SPEC.retries, SPEC.start_period], [1_000, 500, 3, 10_000]);
  });

  test("failures in the start period never count; the first success makes it healthy", () => {
    const records = run([
      [0, false],
      [1_000, false],
      [2_000, false],
      [3_000, false],
      [9_999, false],
      [10_000, true],
    ]);
    assert.deepEqual(verdicts(records), [
      "starting",
      "starting",
      "starting",
      "starting",
      "starting",
      "healthy",
    ]);
    assert.ok(records.slice(0, 5).every((r) => r.consecutiveFailures === 0));
  });

  test("after the start period, `retries` consecutive failures make it unhealthy, not fewer", () => {
    assert.deepEqual(
      verdicts(
        run([
          [11_000, false],
          [12_000, false],
          [13_000, false],
        ]),
      ),
      ["starting", "starting", "unhealthy"],
    );
    const one = spec("retries: 1\nstart_period: 0s");
    assert.deepEqual(verdicts(run([[0, false]], one)), ["unhealthy"]);
  });

  test("hysteresis: a healthy container stays healthy through fewer than `retries` failures", () => {
    const records = run([
      [0, true],
      [11_000, false],
      [12_000, false],
      [13_000, true],
      [14_000, false],
      [15_000, false],
      [16_000, false],
    ]);
    assert.deepEqual(verdicts(records), [
      "healthy",
      "healthy",
      "healthy",
      "healthy",
      "healthy",
      "healthy",
      "unhealthy",
    ]);
    assert.deepEqual(
      records.map((r) => r.consecutiveFailures),
      [0, 1, 2, 0, 1, 2, 3],
    );
  });

  test("one success heals an unhealthy container", () => {
    const records = run([
      [11_000, false],
      [12_000, false],
      [13_000, false],
      [14_000, true],
    ]);
    assert.equal(records[2]?.health, "unhealthy");
    assert.deepEqual(
      [records[3]?.health, records[3]?.consecutiveFailures, records[3]?.lastOutput],
      ["healthy", 0, "ok"],
    );
  });

  test("a probe that could not run is no verdict: the count of failures and the verdict stay as they were", () => {
    // Healthy, two failures, then Podman away for ten intervals (a restart on a busy node), then one
    // more failure: that third failure, not the probes that could not run, makes it unhealthy.
    const probes: Array<[number, Result]> = [
      [11_000, true],
      [12_000, false],
      [13_000, false],
      ...Array.from({ length: 10 }, (_, i): [number, Result] => [14_000 + i * 1_000, "not-run"]),
      [24_000, false],
    ];
    const records = run(probes);
    assert.deepEqual(verdicts(records.slice(0, 13)), Array(13).fill("healthy"));
    assert.deepEqual(
      records.map((r) => r.consecutiveFailures),
      [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3],
    );
    assert.equal(records.at(-1)?.health, "unhealthy");
    const away = records[12] as ProbeRecord;
    assert.deepEqual(
      [away.notRun, away.lastNotRun, away.lastOutput, away.lastProbeAt],
      [10, "Podman is not answering", "fail", START + 23_000],
      "counted apart, the last real output kept, and the next probe after the interval",
    );
    assert.equal(records.at(-1)?.notRun, 0, "a probe that ran ends the stretch");
  });

  test("property: probes that could not run, anywhere among the others, change no verdict", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 4_000 }),
            result: fc.constantFrom<Result>(true, false, "not-run"),
          }),
          {
            maxLength: 40,
          },
        ),
        (steps) => {
          let t = 0;
          const probes = steps.map(({ gap, result }): [number, Result] => {
            t += gap;
            return [t, result];
          });
          const ran = probes.filter(([, result]) => result !== "not-run");
          const withGaps = run(probes);
          const without = run(ran);
          // After each probe that ran, the same verdict as if the others had not happened.
          const after = withGaps.filter((_, i) => probes[i]?.[1] !== "not-run");
          assert.deepEqual(verdicts(after), verdicts(without));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  test("every probe is recorded: time and output", () => {
    const [record] = run([[500, false]]);
    assert.deepEqual([record?.lastProbeAt, record?.lastOutput], [START + 500, "fail"]);
  });

  test("property: slow probes that eventually succeed within the start period never make it unhealthy", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1_000, max: 120_000 }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 30 }),
        (retries, startPeriod, offsets) => {
          const s = { ...SPEC, retries, start_period: startPeriod };
          // Failures at any times inside the start period (a loaded node), then one success inside it.
          const times = offsets.map((o) => o % startPeriod).sort((a, b) => a - b);
          const probes: Array<[number, boolean]> = times.map((t, i) => [t, i === times.length - 1]);
          const records = run(probes, s);
          assert.ok(!records.some((r) => r.health === "unhealthy"));
          assert.equal(records.at(-1)?.health, "healthy");
        },
      ),
      { numRuns: 1_000 },
    );
  });

  test("property: unhealthy exactly when the last `retries` probes after the start period all failed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 4_000 }), ok: fc.boolean() }), { maxLength: 40 }),
        (retries, steps) => {
          const s = { ...SPEC, retries };
          let t = 0;
          const probes: Array<[number, boolean]> = steps.map((step) => {
            t += step.gap;
            return [t, step.ok];
          });
          const records = run(probes, s);
          let counted = 0;
          let model: Health = "starting";
          probes.forEach(([offset, ok], i) => {
            if (ok) counted = 0;
            else if (offset >= s.start_period) counted++;
            else counted = 0;
            model = ok
              ? "healthy"
              : counted >= retries
                ? "unhealthy"
                : model === "healthy"
                  ? "healthy"
                  : "starting";
            assert.equal(records[i]?.health, model, `probe ${i} at ${offset}`);
          });
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe("probeDue", () => {
  test("due when never probed, then once per interval", () => {
    assert.equal(probeDue(undefined, SPEC, START), true);
    assert.equal(probeDue(fresh(), SPEC, START), true);
    const probed = { ...fresh(), lastProbeAt: START };
    assert.equal(probeDue(probed, SPEC, START + 999), false);
    assert.equal(probeDue(probed, SPEC, START + 1_000), true);
  });
});

describe("HealthMonitor", () => {
  const container = (extra: Partial<ObservedContainer> = {}): ObservedContainer => ({
    id: "c1",
    name: "web",
    appId: "app",
    key: "web",
    specHash: "h",
    image: "img",
    state: "running",
    exitCode: 0,
    createdAt: START,
    startedAt: START,
    finishedAt: undefined,
    backend: "podman",
    unit: undefined,
    labels: {},
    ...extra,
  });

  function monitor(results: Result[], reachable: (e: HostEndpoint) => boolean = () => true) {
    let now = START;
    const probes: string[][] = [];
    const reached: string[] = [];
    const changes: string[] = [];
    const outcomes: string[] = [];
    const m = new HealthMonitor({
      clock: () => now,
      onChange: (appId) => changes.push(appId),
      onProbe: (outcome) => outcomes.push(outcome),
      probe: async (_c, command) => {
        probes.push(command);
        const result = results.shift();
        if (result === undefined) throw new Error("Podman did not answer");
        if (result === "not-run") return { outcome: "not-run", output: "the container is not running" };
        return { outcome: result ? "pass" : "fail", output: result ? "fine" : "bad" };
      },
      reach: async (endpoint) => {
        reached.push(`${endpoint.address}:${endpoint.port}`);
        return reachable(endpoint);
      },
    });
    return { m, probes, reached, changes, outcomes, advance: (ms: number) => (now += ms) };
  }

  test("verdicts without probing: unknown when not running, healthy without a check, starting before a probe", () => {
    const { m } = monitor([]);
    assert.equal(m.healthOf(undefined, SPEC), "unknown");
    assert.equal(m.healthOf(container({ state: "exited" }), SPEC), "unknown");
    assert.equal(m.healthOf(container(), undefined), "healthy");
    assert.equal(m.healthOf(container(), SPEC), "starting");
  });

  test("probes when due, reports changes, keeps the verdict per container start", async () => {
    const h = monitor([true, false]);
    const target = { appId: "app", key: "web", container: container(), spec: SPEC, published: [] };
    await h.m.tick([target]);
    assert.deepEqual(h.probes, [["/bin/true"]]);
    assert.equal(h.m.healthOf(container(), SPEC), "healthy");
    assert.deepEqual(h.changes, ["app"]);
    assert.equal(h.m.lastOutput("c1"), "fine");
    h.advance(500);
    await h.m.tick([target]);
    assert.equal(h.probes.length, 1, "not before the interval");
    h.advance(500);
    await h.m.tick([target]);
    assert.equal(h.probes.length, 2);
    assert.equal(h.m.healthOf(container(), SPEC), "healthy", "one failure is not enough");
    assert.deepEqual(h.changes, ["app"], "no change, no wake-up");
    // The same container restarted: its old verdict no longer applies.
    assert.equal(h.m.healthOf(container({ startedAt: START + 5_000 }), SPEC), "starting");
  });

  test("the verdict holds when the start time comes at another precision (list: seconds, inspect: ns)", async () => {
    const second = Math.floor(START / 1000) * 1000;
    const h = monitor([true]);
    await h.m.tick([
      { appId: "app", key: "web", container: container({ startedAt: second }), spec: SPEC, published: [] },
    ]);
    // The reconciler's view of the same start, from an inspect, 601 ms into that second.
    assert.equal(h.m.healthOf(container({ startedAt: second + 601 }), SPEC), "healthy");
    assert.equal(h.m.healthOf(container({ startedAt: second + 1_000 }), SPEC), "starting", "a later start");
  });

  test("a probe that could not run, or whose runner threw, is no verdict; containers no longer seen are forgotten", async () => {
    // retries 1: a single failure would make it unhealthy at once.
    const h = monitor([true, "not-run"]);
    const target = {
      appId: "app",
      key: "web",
      container: container(),
      spec: spec("retries: 1\nstart_period: 0s\ninterval: 1s\ntimeout: 500ms"),
      published: [],
    };
    await h.m.tick([target]);
    for (let i = 0; i < 5; i++) {
      h.advance(1_000);
      await h.m.tick([target]); // not run, then thrown (no results left)
    }
    assert.equal(h.probes.length, 6, "probed once per interval all along");
    assert.equal(h.m.healthOf(container(), target.spec), "healthy");
    assert.deepEqual(h.changes, ["app"], "only the first verdict woke the app up");
    assert.deepEqual(h.outcomes, ["pass", "not-run", "not-run", "not-run", "not-run", "not-run"]);
    assert.deepEqual(h.m.notRun("c1"), { count: 5, reason: "Podman did not answer" });
    assert.equal(h.m.lastOutput("c1"), "fine", "the last real output is kept");
    await h.m.tick([]);
    assert.equal(h.m.lastOutput("c1"), undefined);
    assert.equal(h.m.notRun("c1"), undefined);
    assert.equal(h.m.healthOf(container(), target.spec), "starting");
  });

  test("stopped containers are not probed, and one container is never probed twice at once", async () => {
    let release: (() => void) | undefined;
    let calls = 0;
    const m = new HealthMonitor({
      clock: () => START,
      onChange: () => {},
      reach: async () => true,
      probe: () => {
        calls++;
        return new Promise((resolve) => {
          release = () => resolve({ outcome: "pass", output: "" });
        });
      },
    });
    await m.tick([
      { appId: "app", key: "web", container: container({ state: "exited" }), spec: SPEC, published: [] },
    ]);
    assert.equal(calls, 0);
    const target = { appId: "app", key: "web", container: container(), spec: SPEC, published: [] };
    const first = m.tick([target]);
    await m.tick([target]);
    assert.equal(calls, 1);
    release?.();
    await first;
  });

  test("a probe that passes inside is followed by a connect to each published port; a refusal fails it", async () => {
    const published = [
      { address: "127.0.0.1", port: 18080 },
      { address: "10.0.0.5", port: 18443 },
    ];
    const h = monitor([true, true, false], (e) => e.port !== 18443);
    const target = {
      appId: "app",
      key: "web",
      container: container(),
      spec: spec("retries: 2\nstart_period: 0s\ninterval: 1s\ntimeout: 500ms"),
      published,
    };
    await h.m.tick([target]);
    assert.deepEqual(h.reached, ["127.0.0.1:18080", "10.0.0.5:18443"]);
    assert.equal(h.m.healthOf(container(), target.spec), "starting", "one failure of two");
    assert.match(
      h.m.lastOutput("c1") ?? "",
      /passes inside the container, but its published port 10\.0\.0\.5:18443 refuses connections on the host/,
    );
    h.advance(1_000);
    await h.m.tick([target]);
    assert.equal(h.m.healthOf(container(), target.spec), "unhealthy", "two in a row");
    // A probe that fails inside: the host is not asked.
    h.advance(1_000);
    const asked = h.reached.length;
    await h.m.tick([target]);
    assert.equal(h.reached.length, asked);
  });
});

describe("publishedEndpoints", () => {
  test("published TCP ports as a client on the node reaches them; an interface's on loopback; UDP and private ports left out", () => {
    const parsed = parseManifest(
      `manifest: 1
id: ports-test
version: 1.0.0
name: Ports test
description: A test app
containers:
  web:
    image: localhost/archy-test/busybox:1
    ports:
      - { container: 80, host: 8080 }
      - { container: 443, host: 8443, bind: 127.0.0.1 }
      - { container: 53, host: 5353, protocol: udp }
      - { container: 9000 }
      - { container: 81, host: 8081, bind: "::" }
      - { container: 3000, host: 13000 }
interfaces:
  ui: { container: web, port: 3000 }
`,
      "ports.yml",
    );
    assert.ok(parsed.ok);
    assert.deepEqual(publishedEndpoints(parsed.manifest, "web"), [
      { address: "127.0.0.1", port: 8080 },
      { address: "127.0.0.1", port: 8443 },
      { address: "::1", port: 8081 },
      { address: "127.0.0.1", port: 13000 },
    ]);
  });
});
