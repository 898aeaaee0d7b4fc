/**
 * Naming scheme 2 is injective: no two (app, name) pairs ever get one name, in any namespace of the
 * node (Podman's containers, networks, volumes and secrets, the user's systemd units), so one app
 * can never read another's volume or secrets. Proved by properties over random ids and names drawn
 * from a small alphabet (so that `a-b` + `c` against `a` + `b-c` comes up all the time), and shown
 * false for scheme 1, whose names earlier releases gave and installed apps keep.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { kubeName, kubeVolumeName } from "../render/kube.ts";
import { appResources, sharedResources } from "../render/resources.ts";
import {
  CURRENT_NAMING,
  containerName,
  type NamingScheme,
  networkName,
  reservedNameProblem,
  secretName,
  volumeName,
} from "./naming.ts";
import { APP_ID, DNS_LABEL, type Manifest } from "./schema.ts";

/**
 * Short words joined by hyphens (sometimes two: an empty word): the names that can be split in
 * several ways, as `a-b` + `c` and `a` + `b-c`.
 */
const label = fc
  .array(fc.constantFrom("a", "b", "a1", ""), { minLength: 1, maxLength: 4 })
  .map((words) => words.join("-"))
  .filter((s) => DNS_LABEL.test(s));
/** Ids an install accepts: the schema's form, outside the platform's reserved names. */
const appId = fc
  .tuple(label, fc.option(label, { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a}.${b}`))
  .filter((id) => APP_ID.test(id) && reservedNameProblem(id, "id") === undefined);

type App = { id: string; containers: Record<string, { volumes: string[] }>; secrets: string[] };

const app: fc.Arbitrary<App> = fc.record({
  id: appId,
  containers: fc.dictionary(label, fc.record({ volumes: fc.uniqueArray(label, { maxLength: 2 }) }), {
    minKeys: 1,
    maxKeys: 3,
  }),
  secrets: fc.uniqueArray(label, { maxLength: 2 }),
});

/** The parts of a manifest that names come from. */
function manifestOf(a: App, explicit: Record<string, string> = {}): Manifest {
  return {
    id: a.id,
    containers: Object.fromEntries(
      Object.entries(a.containers).map(([key, c]) => [
        key,
        { container_name: explicit[key], volumes: c.volumes.map((name) => ({ name, path: `/${name}` })) },
      ]),
    ),
    secrets: Object.fromEntries(a.secrets.map((s) => [s, { type: "alphanumeric", length: 32 }])),
    adoption: { containers: {}, volumes: {}, data_paths: {} },
  } as unknown as Manifest;
}

/** Two apps never share a resource name: the property scheme 2 has and scheme 1 lacks. */
const noSharedName = (scheme: NamingScheme) =>
  fc.property(app, app, (a, b) => {
    fc.pre(a.id !== b.id);
    const shared = sharedResources(appResources(manifestOf(a), scheme), appResources(manifestOf(b), scheme));
    assert.deepEqual(shared, [], `${a.id} and ${b.id} share ${JSON.stringify(shared)}`);
  });

const RUNS = { numRuns: 2000 };

describe("naming scheme 2 is injective", () => {
  test("two apps never share a container, network, volume, secret or unit name", () => {
    fc.assert(noSharedName(CURRENT_NAMING), RUNS);
  });

  test("every name function is one-to-one on (app, name)", () => {
    const stack = (id: string, keys: string[]) =>
      manifestOf({ id, containers: Object.fromEntries(keys.map((k) => [k, { volumes: [] }])), secrets: [] });
    fc.assert(
      fc.property(appId, label, appId, label, label, (id1, n1, id2, n2, other) => {
        fc.pre(id1 !== id2 || n1 !== n2);
        assert.notEqual(volumeName(id1, n1, 2), volumeName(id2, n2, 2));
        assert.notEqual(secretName(id1, n1, 2), secretName(id2, n2, 2));
        // A stack of at least two containers: keys n1/n2 next to another one.
        const c1 = containerName(stack(id1, [n1, `${n1}x`, other]), n1, 2);
        const c2 = containerName(stack(id2, [n2, `${n2}x`, other]), n2, 2);
        assert.notEqual(c1, c2);
        // Nor is a stack's container ever a one-container app's (whose name is its id).
        assert.notEqual(c1, id2);
        if (id1 !== id2) {
          assert.notEqual(networkName(id1), networkName(id2));
          assert.notEqual(kubeName(id1), kubeName(id2));
          assert.notEqual(kubeVolumeName(id1, n1), kubeVolumeName(id2, n2));
        }
      }),
      RUNS,
    );
  });

  test("the adversarial splits: a-b + c against a + b-c, and a namespaced id against a stack", () => {
    // Each pair shared a name under scheme 1 (the collisions scheme 2 exists for).
    const clashedBefore: Array<[App, App]> = [
      [
        { id: "sx-v", containers: { db: { volumes: ["db-data"] } }, secrets: ["db-data"] },
        { id: "sx-v-db", containers: { web: { volumes: ["data"] } }, secrets: ["data"] },
      ],
      [
        { id: "a-b", containers: { c: { volumes: [] }, d: { volumes: [] } }, secrets: [] },
        { id: "a", containers: { "b-c": { volumes: [] }, d: { volumes: [] } }, secrets: [] },
      ],
      [
        { id: "a-b", containers: { web: { volumes: [] } }, secrets: [] },
        { id: "a", containers: { b: { volumes: [] }, c: { volumes: [] } }, secrets: [] },
      ],
    ];
    // A separator an id may contain would clash here: `alice.relay` against `alice` + `relay`.
    const namespaced: [App, App] = [
      { id: "alice.relay", containers: { web: { volumes: ["x"] } }, secrets: ["x"] },
      { id: "alice", containers: { relay: { volumes: ["x"] }, db: { volumes: [] } }, secrets: ["relay"] },
    ];
    for (const [a, b] of [...clashedBefore, namespaced])
      assert.deepEqual(sharedResources(appResources(manifestOf(a), 2), appResources(manifestOf(b), 2)), []);
    for (const [a, b] of clashedBefore)
      assert.notDeepEqual(
        sharedResources(appResources(manifestOf(a), 1), appResources(manifestOf(b), 1)),
        [],
      );
    assert.equal(volumeName("sx-v", "db-data", 1), volumeName("sx-v-db", "data", 1));
    assert.notEqual(volumeName("sx-v", "db-data", 2), volumeName("sx-v-db", "data", 2));
  });

  test("scheme 1 is not: the same property finds two apps sharing a name", () => {
    // About one pair in a thousand clashes: the check stops at the first, long before its bound.
    const result = fc.check(noSharedName(1), { numRuns: 100_000 });
    assert.ok(result.failed, "scheme 1 shares names between apps (the reason scheme 2 exists)");
  });
});

describe("names are valid where they are used", () => {
  const PODMAN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
  const UNIT = /^[A-Za-z0-9:_.\\-]+$/;
  const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
  const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

  test("Podman names, systemd units, host names (containers) and Kubernetes object names", () => {
    fc.assert(
      fc.property(app, (a) => {
        const resources = appResources(manifestOf(a), CURRENT_NAMING);
        for (const r of resources) {
          if (r.kind === "unit") {
            assert.match(r.name, UNIT);
            assert.ok(r.name.length <= 255, r.name);
          } else assert.match(r.name, PODMAN);
          // A container name is a host name (dependents reach exported containers by it).
          if (r.kind === "container") assert.match(r.name, DNS_NAME);
        }
        assert.match(kubeName(a.id), DNS_1035);
        assert.ok(kubeName(a.id).length <= 63);
        for (const v of Object.values(a.containers).flatMap((c) => c.volumes)) {
          assert.match(kubeVolumeName(a.id, v), DNS_NAME);
          assert.ok(kubeVolumeName(a.id, v).length <= 253);
        }
      }),
      RUNS,
    );
  });
});

describe("explicit container names", () => {
  test("one that the naming rule accepts can only ever be a one-container app's name, its id", () => {
    // Candidates: every name another app gets (units without `.service`), and random strings.
    const random = fc
      .string({
        unit: fc.constantFrom("a", "b", "-", "_", ".", "r", "c", "h", "y"),
        minLength: 1,
        maxLength: 12,
      })
      .filter((name) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name));
    fc.assert(
      fc.property(app, random, (b, other) => {
        const theirs = appResources(manifestOf(b), CURRENT_NAMING);
        const candidates = [other, ...theirs.map((r) => r.name.replace(/\.service$/, ""))];
        for (const name of candidates) {
          if (reservedNameProblem(name, "container_name") !== undefined) continue;
          const mine = appResources(
            manifestOf(
              { id: "zz", containers: { web: { volumes: [] }, db: { volumes: [] } }, secrets: [] },
              { web: name },
            ),
            CURRENT_NAMING,
          ).filter((r) => r.name === name || r.name === `${name}.service`);
          const shared = sharedResources(mine, theirs);
          const single = Object.keys(b.containers).length === 1;
          if (shared.length > 0)
            assert.ok(single && name === b.id, `${name} shares ${JSON.stringify(shared)}`);
        }
      }),
      RUNS,
    );
  });

  test("the platform's own names and the stack form are refused, with the reason", () => {
    assert.match(reservedNameProblem("archy-fz-network", "container_name") ?? "", /platform's own/);
    assert.match(reservedNameProblem("archy-fz", "id") ?? "", /platform's own/);
    assert.match(reservedNameProblem("archipelago", "container_name") ?? "", /daemon's own systemd unit/);
    assert.match(reservedNameProblem("notes--web", "container_name") ?? "", /generated container names/);
    assert.match(reservedNameProblem("a--b", "id") ?? "", /an id cannot contain it/);
    assert.equal(reservedNameProblem("notes-database", "container_name"), undefined);
    assert.equal(reservedNameProblem("archy", "id"), undefined);
  });
});
