import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  allPhases,
  dependencyOrder,
  type PlanApp,
  PlanError,
  type PlanInput,
  parseSteps,
  planGate,
  STEP_INFO,
  STEPS,
} from "./matrix.ts";

const reachable = { available: true } as const;
const APPS: PlanApp[] = [
  { id: "mini-explorer", dependsOn: ["mini-node"], reachable },
  { id: "hello-web", dependsOn: [], reachable },
  { id: "mini-node", dependsOn: [], reachable: { available: false, reason: "no interface" } },
];
const base: PlanInput = {
  iterations: 2,
  apps: APPS,
  destructive: false,
  daemonRestart: { available: true },
  reboot: { available: false, reason: "no systemd node" },
};

describe("gate matrix planner", () => {
  test("dependencies come first; dependents first when taking apps down", () => {
    assert.deepEqual(dependencyOrder(APPS), ["hello-web", "mini-node", "mini-explorer"]);
    const plan = planGate(base);
    const first = plan.iterations[0]?.phases ?? [];
    const stop = first.find((p) => p.step === "stop");
    const install = first.find((p) => p.step === "install");
    assert.deepEqual(install?.order, ["hello-web", "mini-node", "mini-explorer"]);
    assert.deepEqual(stop?.order, ["mini-explorer", "mini-node", "hello-web"]);
  });

  test("a dependency cycle and a missing dependency are errors", () => {
    assert.throws(
      () =>
        planGate({
          ...base,
          apps: [
            { id: "a", dependsOn: ["b"], reachable },
            { id: "b", dependsOn: ["a"], reachable },
          ],
        }),
      /cycle: a -> b -> a/,
    );
    assert.throws(
      () => planGate({ ...base, apps: [{ id: "a", dependsOn: ["z"], reachable }] }),
      /depends on z/,
    );
    assert.throws(() => planGate({ ...base, iterations: 0 }), PlanError);
  });

  test("the full matrix: every step judged in order, reboot and purge skipped with their reasons", () => {
    const plan = planGate(base);
    assert.deepEqual(plan.steps, [...STEPS]);
    const judged = plan.iterations[0]?.phases.filter((p) => p.judged).map((p) => p.step);
    assert.deepEqual(judged, [...STEPS]);
    const phases = plan.iterations[0]?.phases ?? [];
    const reboot = phases.find((p) => p.step === "reboot");
    assert.deepEqual(reboot?.skipped, {
      "hello-web": "no systemd node",
      "mini-node": "no systemd node",
      "mini-explorer": "no systemd node",
    });
    const purge = phases.find((p) => p.step === "purge");
    assert.match(purge?.skipped["hello-web"] ?? "", /--destructive/);
    const ui = phases.find((p) => p.step === "ui");
    assert.deepEqual(ui?.skipped, { "mini-node": "no interface" }, "ui is skipped only where unreachable");
  });

  test("no setup phase in a full, destructive iteration; iterations start from absent", () => {
    const plan = planGate({ ...base, destructive: true });
    for (const { phases } of plan.iterations) {
      assert.deepEqual(
        phases.filter((p) => !p.judged).map((p) => p.step),
        [],
      );
      assert.equal(phases[0]?.before["hello-web"], "absent");
    }
    assert.deepEqual(plan.teardown, [], "purge left everything absent");
  });

  test("without --destructive the apps are uninstalled (data kept) between iterations and at the end", () => {
    const plan = planGate(base);
    const second = plan.iterations[1]?.phases ?? [];
    assert.equal(second[0]?.step, "uninstall");
    assert.equal(second[0]?.judged, false);
    assert.match(second[0]?.why ?? "", /uninstall/);
    assert.deepEqual(
      plan.teardown.map((p) => [p.step, p.judged]),
      [["uninstall", false]],
    );
  });

  test("states follow the steps: before each phase, what the previous one left", () => {
    const plan = planGate({ ...base, destructive: true, iterations: 1 });
    const phases = plan.iterations[0]?.phases ?? [];
    const states = phases.map((p) => `${p.step}:${p.before["hello-web"]}`);
    assert.deepEqual(states, [
      "install:absent",
      "ui:running",
      "stop:running",
      "start:stopped",
      "restart:running",
      "daemon-restart:running",
      "reboot:running",
      "reinstall:running",
      "uninstall:running",
      "install-again:absent",
      "purge:running",
    ]);
    for (const phase of phases) {
      if (Object.keys(phase.skipped).length === phase.order.length) continue;
      assert.equal(
        phase.before["hello-web"],
        STEP_INFO[phase.step].needs,
        `${phase.step} starts from what it needs`,
      );
    }
  });

  test("selected steps get the setup steps their preconditions need", () => {
    const plan = planGate({ ...base, iterations: 1, steps: ["start", "install-again"] });
    const phases = plan.iterations[0]?.phases ?? [];
    assert.deepEqual(
      phases.map((p) => `${p.judged ? "" : "setup "}${p.step}`),
      ["setup install", "setup stop", "start", "setup uninstall", "install-again"],
    );
    assert.deepEqual(plan.steps, ["start", "install-again"]);
    assert.deepEqual(
      plan.teardown.map((p) => p.step),
      ["uninstall"],
    );
  });

  test("a skipped step that would change the state leaves it as it was", () => {
    const plan = planGate({ ...base, iterations: 1, steps: ["purge", "stop", "install"] });
    const phases = plan.iterations[0]?.phases ?? [];
    assert.deepEqual(
      phases.map((p) => `${p.judged ? "" : "setup "}${p.step}:${p.before["hello-web"]}`),
      ["install:absent", "stop:running", "purge:stopped"],
      "steps run in matrix order, whatever order they were named in",
    );
    assert.deepEqual(
      plan.teardown.map((p) => `${p.step}:${p.before["hello-web"]}`),
      ["uninstall:stopped"],
      "the skipped purge removed nothing: the teardown does",
    );
  });

  test("daemon restart unavailable: skipped with the reason, never run", () => {
    const plan = planGate({
      ...base,
      iterations: 1,
      daemonRestart: { available: false, reason: "no --restart-command" },
    });
    const phase = plan.iterations[0]?.phases.find((p) => p.step === "daemon-restart");
    assert.equal(phase?.skipped["mini-node"], "no --restart-command");
  });

  test("parseSteps: known steps only, duplicates dropped", () => {
    assert.deepEqual(parseSteps("stop, start,stop"), ["stop", "start"]);
    assert.throws(() => parseSteps("stop,boot"), /unknown step boot/);
    assert.throws(() => parseSteps(" , "), /at least one/);
  });

  test("allPhases lists the iterations' phases then the teardown (iteration 0)", () => {
    const plan = planGate({ ...base, iterations: 2, steps: ["install"] });
    const all = allPhases(plan);
    assert.deepEqual(
      all.map((p) => `${p.iteration}:${p.phase.step}`),
      ["1:install", "2:uninstall", "2:install", "0:uninstall"],
    );
  });
});
