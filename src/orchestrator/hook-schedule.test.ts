/** When hooks run, as tables: after each operation, before a round's actions, once the app runs. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HookName } from "../manifest/schema.ts";
import type { Backend, ContainerState } from "../runtime/observed.ts";
import { type HookRound, type HookStep, hookAfter, hookDue, hookDueOnceRunning } from "./hook-schedule.ts";
import type { OperationKind } from "./model.ts";
import type { Action } from "./planner.ts";

describe("hookAfter: the hook an operation leaves due", () => {
  const rows: Array<[OperationKind, HookName | undefined, boolean, HookName | undefined]> = [
    // kind, due before, first install, due after
    ["install", undefined, true, "post_install"],
    ["install", "post_install", false, "post_install"],
    ["install", undefined, false, undefined],
    ["reinstall", "post_install", false, "post_install"],
    ["update", undefined, false, "post_update"],
    ["update", "post_install", false, "post_install"],
    ["start", undefined, false, "pre_start"],
    ["restart", undefined, false, "pre_start"],
    ["start", "post_update", false, "post_update"],
    ["stop", "pre_start", false, "pre_start"],
    ["uninstall", "post_install", false, "pre_uninstall"],
    ["purge", undefined, false, "pre_purge"],
    ["purge", "pre_purge", false, "pre_purge"],
    ["stop", "pre_purge", false, undefined],
    ["start", "pre_uninstall", false, "pre_uninstall"],
    ["stop", "pre_uninstall", false, undefined],
    ["retry", "pre_uninstall", false, undefined],
    ["approve", "post_update", false, "post_update"],
  ];
  for (const [kind, due, first, expected] of rows)
    test(`${kind} with ${due ?? "nothing"} due${first ? " (first install)" : ""} → ${expected ?? "nothing"}`, () => {
      assert.equal(hookAfter(kind, due, first), expected);
    });
});

describe("hookDue: what to do about hooks before a round's actions", () => {
  const container = (id: string) => ({ id, name: id, backend: "podman" as const, unit: undefined });
  const create: Action = { kind: "create", key: "web", backend: "podman" };
  const start: Action = { kind: "start", key: "web", container: container("c1") };
  const restart: Action = { kind: "restart", key: "web", container: container("c1"), timeoutSeconds: 10 };
  const stop: Action = { kind: "stop", key: "web", container: container("c1"), timeoutSeconds: 10 };
  const remove: Action = {
    kind: "remove",
    key: "web",
    container: container("c1"),
    timeoutSeconds: 10,
    why: "uninstall",
  };
  const web = (state: ContainerState, backend: Backend = "podman") => ({
    id: "c1",
    key: "web",
    state,
    backend,
  });
  const rows: Array<[string, HookRound, HookStep]> = [
    [
      "nothing due, nothing to start: nothing",
      {
        due: undefined,
        desired: "running",
        preStartTargets: ["web"],
        actions: [start],
        seen: [web("exited")],
      },
      { kind: "none" },
    ],
    [
      "pre_start due, the container exists: runs before the start, and is no longer due",
      {
        due: "pre_start",
        desired: "running",
        preStartTargets: ["web"],
        actions: [start],
        seen: [web("exited")],
      },
      { kind: "pre_start", clearsDue: true },
    ],
    [
      "pre_start due before a restart",
      {
        due: "pre_start",
        desired: "running",
        preStartTargets: ["web"],
        actions: [restart],
        seen: [web("running")],
      },
      { kind: "pre_start", clearsDue: true },
    ],
    [
      "the first start of a new container: runs, and leaves the hook due as it was",
      {
        due: undefined,
        desired: "running",
        preStartTargets: ["web"],
        actions: [start],
        seen: [web("created")],
      },
      { kind: "pre_start", clearsDue: false },
    ],
    [
      "the first start of a container pre_start does not copy into: nothing",
      {
        due: undefined,
        desired: "running",
        preStartTargets: ["db"],
        actions: [start],
        seen: [web("created")],
      },
      { kind: "none" },
    ],
    [
      "a target not created yet: waits for its create",
      { due: "pre_start", desired: "running", preStartTargets: ["web"], actions: [create], seen: [] },
      { kind: "wait", message: "the pre_start hook waits until web is created" },
    ],
    [
      "a target run by a Quadlet unit: waits until it runs again from its unit",
      {
        due: "pre_start",
        desired: "running",
        preStartTargets: ["web"],
        actions: [start],
        seen: [web("exited", "quadlet")],
      },
      { kind: "wait", message: "the pre_start hook waits until web runs again from its Quadlet unit" },
    ],
    [
      "a Quadlet target, pre_start not due: nothing",
      {
        due: undefined,
        desired: "running",
        preStartTargets: ["web"],
        actions: [start],
        seen: [web("created", "quadlet")],
      },
      { kind: "none" },
    ],
    [
      "pre_start due while the app stops: nothing",
      {
        due: "pre_start",
        desired: "stopped",
        preStartTargets: ["web"],
        actions: [stop],
        seen: [web("running")],
      },
      { kind: "none" },
    ],
    [
      "pre_uninstall due, the app going: runs before the stop",
      {
        due: "pre_uninstall",
        desired: "absent",
        preStartTargets: [],
        actions: [stop, remove],
        seen: [web("running")],
      },
      { kind: "pre_uninstall" },
    ],
    [
      "pre_purge due, the app and its data going: runs before the stop (pre_uninstall after it)",
      {
        due: "pre_purge",
        desired: "absent",
        preStartTargets: [],
        actions: [stop, remove],
        seen: [web("running")],
      },
      { kind: "pre_purge" },
    ],
    [
      "pre_purge due, the app stopped: before its removal too (its steps then say they cannot run)",
      {
        due: "pre_purge",
        desired: "absent",
        preStartTargets: [],
        actions: [remove],
        seen: [web("exited")],
      },
      { kind: "pre_purge" },
    ],
    [
      "pre_purge due with no container left (what an uninstall kept): the app's accounts in its dependencies go, before its data",
      {
        due: "pre_purge",
        desired: "absent",
        preStartTargets: [],
        actions: [{ kind: "remove-resources", purge: true }, { kind: "purge-data" }, { kind: "forget" }],
        seen: [],
      },
      { kind: "deprovision" },
    ],
    [
      "pre_uninstall due, nothing left to stop or remove: nothing",
      {
        due: "pre_uninstall",
        desired: "absent",
        preStartTargets: [],
        actions: [{ kind: "forget" }],
        seen: [],
      },
      { kind: "none" },
    ],
    [
      "pre_uninstall due but the app wanted running again: nothing",
      {
        due: "pre_uninstall",
        desired: "running",
        preStartTargets: [],
        actions: [stop],
        seen: [web("running")],
      },
      { kind: "none" },
    ],
  ];
  for (const [name, round, expected] of rows)
    test(name, () => {
      assert.deepEqual(hookDue(round), expected);
    });
});

describe("hookDueOnceRunning: the hook run once the app has converged running", () => {
  const rows: Array<[HookName | undefined, HookName | undefined]> = [
    [undefined, undefined],
    ["post_install", "post_install"],
    ["post_update", "post_update"],
    ["pre_start", "pre_start"],
    ["pre_uninstall", undefined],
  ];
  for (const [due, expected] of rows)
    test(`${due ?? "nothing"} due → ${expected ?? "nothing"}`, () => {
      assert.equal(hookDueOnceRunning(due), expected);
    });
});
