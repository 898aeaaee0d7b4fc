import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeFault, FAULT_KINDS, planFaults, seededRandom } from "./faults.ts";
import { allPhases, type PlanInput, planGate } from "./matrix.ts";

const input: PlanInput = {
  iterations: 2,
  apps: [
    { id: "web", dependsOn: [], reachable: { available: true } },
    { id: "node", dependsOn: [], reachable: { available: false, reason: "no interface" } },
  ],
  destructive: true,
  daemonRestart: { available: true },
  reboot: { available: false, reason: "no node" },
};
const containers = { web: ["web"], node: ["node", "sidecar"] };

describe("chaos faults planner", () => {
  test("the same seed gives the same faults; another seed other targets", () => {
    const plan = planGate(input);
    const a = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 42 });
    const b = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 42 });
    assert.deepEqual(a, b);
    const c = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 7 });
    assert.notDeepEqual(
      a.map((f) => [f.app, f.container, f.delayMs]),
      c.map((f) => [f.app, f.container, f.delayMs]),
    );
    const random = seededRandom(1);
    const values = Array.from({ length: 100 }, random);
    assert.ok(values.every((v) => v >= 0 && v < 1));
    assert.ok(new Set(values).size > 90, "spread out");
  });

  test("one fault before every judged step that runs, except the very first; none in the teardown", () => {
    const plan = planGate(input);
    const faults = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 1 });
    const gaps = allPhases(plan).filter(
      (p) => p.iteration > 0 && p.phase.judged && p.phase.order.some((id) => !(id in p.phase.skipped)),
    );
    assert.equal(faults.length, gaps.length - 1);
    assert.ok(
      !faults.some((f) => f.iteration === 1 && f.phaseIndex === 0),
      "nothing before the first install",
    );
    const ids = new Set(faults.map((f) => f.id));
    assert.equal(ids.size, faults.length, "fault ids are unique");
    for (const kind of FAULT_KINDS)
      assert.ok(
        faults.some((f) => f.kind === kind),
        `${kind} is used`,
      );
  });

  test("every fault fits its gap: containers are hit only where they exist, the daemon only during an operation", () => {
    const plan = planGate(input);
    const faults = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 3 });
    for (const fault of faults) {
      const phase = plan.iterations[fault.iteration - 1]?.phases[fault.phaseIndex];
      assert.ok(phase, fault.id);
      assert.equal(phase.step, fault.step);
      if (fault.kind === "container-kill") {
        assert.equal(
          phase.before[fault.app as string],
          "running",
          `${fault.id}: only running apps are killed`,
        );
        assert.ok(containers[fault.app as keyof typeof containers].includes(fault.container as string));
      }
      if (fault.kind === "container-remove")
        assert.notEqual(
          phase.before[fault.app as string],
          "absent",
          `${fault.id}: only installed apps lose a container`,
        );
      if (fault.kind === "daemon-sigkill") {
        assert.ok(
          [
            "install",
            "stop",
            "start",
            "restart",
            "reinstall",
            "uninstall",
            "install-again",
            "purge",
          ].includes(phase.step),
        );
        assert.ok((fault.delayMs ?? -1) >= 0 && (fault.delayMs ?? 2_000) <= 1_500);
      }
      if (fault.app) assert.ok(!(fault.app in phase.skipped), `${fault.id}: the target takes the step`);
    }
  });

  test("only the kinds available are used; none available, no faults", () => {
    const plan = planGate(input);
    const faults = planFaults({ plan, kinds: ["container-kill", "container-remove"], containers, seed: 5 });
    assert.ok(faults.every((f) => f.kind === "container-kill" || f.kind === "container-remove"));
    assert.ok(faults.length > 0);
    assert.deepEqual(planFaults({ plan, kinds: [], containers, seed: 5 }), []);
  });

  test("the kinds take turns", () => {
    const plan = planGate({ ...input, iterations: 1 });
    const faults = planFaults({ plan, kinds: FAULT_KINDS, containers, seed: 9 });
    // Before ui (the second step) the first kind that applies is container-kill; then remove; then the rest.
    assert.deepEqual(
      faults.slice(0, 4).map((f) => f.kind),
      ["container-kill", "container-remove", "podman-restart", "daemon-sigkill"],
    );
  });

  test("descriptions name the target", () => {
    assert.equal(
      describeFault({
        id: "f1.2",
        kind: "container-kill",
        iteration: 1,
        phaseIndex: 2,
        step: "stop",
        app: "web",
        container: "web",
      }),
      "SIGKILL to container web/web before stop",
    );
    assert.match(
      describeFault({
        id: "f1.3",
        kind: "daemon-sigkill",
        iteration: 1,
        phaseIndex: 3,
        step: "start",
        app: "web",
        delayMs: 250,
      }),
      /250 ms after accepting start of web/,
    );
  });
});
