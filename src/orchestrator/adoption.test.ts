/**
 * Taking over legacy data (SPEC invariant 5, adoption): which legacy source an app volume's data
 * directory starts from, when the copy waits for a legacy container to stop, what is refused, and
 * that a data directory that exists is never overwritten. The decisions are pure; `ensureAppData`
 * is run on temporary directories with a fake runtime (real Podman: test/orchestrator/adoption-data.test.ts).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { makeHostRoot } from "../../test/support/host-root.ts";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { resolveApp } from "../render/model.ts";
import type { DataCopy, VolumeData } from "../runtime/data-dirs.ts";
import type { ContainerMounts } from "../runtime/runtime.ts";
import {
  type AdoptionRuntime,
  decideTakeOver,
  ensureAppData,
  type LegacyRef,
  legacyContainerNames,
  legacySources,
  mountsSource,
  type SourceFacts,
  type TakeOverInput,
  volumesOf,
} from "./adoption.ts";
import type { Note } from "./model.ts";

// Legacy data is only taken over from allowed places (/srv among them): the cases live there.
const root = makeHostRoot("adoption");
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function manifest(adoption: string[], extra: string[] = []): Manifest {
  const text = [
    "manifest: 1",
    "id: legacy-app",
    "version: 1.0.0",
    "name: Legacy app",
    "description: A test app",
    "containers:",
    "  web:",
    "    image: docker.io/library/nginx:1.27",
    "    volumes:",
    "      - { name: data, path: /data }",
    "      - { name: conf, path: /conf }",
    ...extra,
    ...(adoption.length > 0 ? ["adoption:", ...adoption] : []),
    "",
  ].join("\n");
  const parsed = parseManifest(text, "legacy-app.yml");
  assert.ok(parsed.ok, JSON.stringify(parsed.ok ? [] : parsed.issues));
  return parsed.manifest;
}

const PATH: LegacyRef = { kind: "data-path", path: "/srv/legacy/data" };
const VOLUME: LegacyRef = { kind: "volume", name: "legacy-data" };
const found = (ref: LegacyRef, path: string, over: Partial<SourceFacts> = {}): SourceFacts =>
  ({ ref, state: "found", path, realPath: path, directory: true, ...over }) as SourceFacts;
const input = (over: Partial<TakeOverInput>): TakeOverInput => ({
  volume: "data",
  target: "/var/lib/archipelago/apps/legacy-app/volumes/data",
  targetExists: false,
  dataRoots: ["/var/lib/archipelago"],
  sources: [],
  running: [],
  stage: "prepare",
  ...over,
});

describe("legacySources and legacyContainerNames", () => {
  test("the host directory first, then the Podman volume; only for the volume that declares them", () => {
    const m = manifest([
      "  containers: { web: [old-web, older-web] }",
      "  volumes: { data: legacy-data, conf: legacy-conf }",
      "  data_paths: { data: /srv/legacy/data }",
    ]);
    assert.deepEqual(legacySources(m, "data"), [PATH, VOLUME]);
    assert.deepEqual(legacySources(m, "conf"), [{ kind: "volume", name: "legacy-conf" }]);
    assert.deepEqual(legacySources(m, "other"), []);
    assert.deepEqual(legacyContainerNames(m), ["old-web", "older-web"]);
    assert.deepEqual(legacySources(manifest([]), "data"), []);
  });
});

describe("decideTakeOver", () => {
  test("a data directory that exists is kept, whatever the legacy sources say", () => {
    assert.deepEqual(decideTakeOver(input({ targetExists: true, sources: [found(PATH, PATH.path)] })), {
      kind: "keep",
    });
  });

  test("no legacy source declared: a plain new directory", () => {
    assert.deepEqual(decideTakeOver(input({})), { kind: "create" });
  });

  test("the data path when it exists; the volume when only it exists; fresh data when neither", () => {
    const vol = "/home/u/.local/share/containers/storage/volumes/legacy-data/_data";
    assert.deepEqual(decideTakeOver(input({ sources: [found(PATH, PATH.path), found(VOLUME, vol)] })), {
      kind: "copy",
      ref: PATH,
      from: PATH.path,
      missing: [],
      stillUsedBy: [],
    });
    assert.deepEqual(
      decideTakeOver(input({ sources: [{ ref: PATH, state: "missing" }, found(VOLUME, vol)] })),
      { kind: "copy", ref: VOLUME, from: vol, missing: [PATH], stillUsedBy: [] },
    );
    assert.deepEqual(
      decideTakeOver(
        input({
          sources: [
            { ref: PATH, state: "missing" },
            { ref: VOLUME, state: "missing" },
          ],
        }),
      ),
      { kind: "fresh", missing: [PATH, VOLUME] },
    );
  });

  test("a data path that resolves elsewhere (a symbolic link) is refused, never followed", () => {
    const decision = decideTakeOver(input({ sources: [found(PATH, PATH.path, { realPath: "/etc" })] }));
    assert.equal(decision.kind, "refuse");
    assert.match((decision as { reason: string }).reason, /resolves to \/etc, not to the declared path/);
  });

  test("a source that is not a directory, or an unusable volume, is refused", () => {
    const notDir = decideTakeOver(input({ sources: [found(PATH, PATH.path, { directory: false })] }));
    assert.equal(notDir.kind, "refuse");
    const tmpfs = decideTakeOver(
      input({ sources: [{ ref: VOLUME, state: "unusable", reason: "volume legacy-data is a tmpfs mount" }] }),
    );
    assert.deepEqual(tmpfs, {
      kind: "refuse",
      reason:
        "cannot take over legacy Podman volume legacy-data for volume data: volume legacy-data is a tmpfs mount",
    });
  });

  test("the platform's own data is never a legacy source: other apps' data, snapshots, state (secrets)", () => {
    for (const path of [
      "/var/lib/archipelago",
      "/var/lib/archipelago/apps",
      "/var/lib/archipelago/apps/legacy-app/volumes/data/x",
      "/var/lib/archipelago/apps/other-app/volumes/db",
      "/var/lib/archipelago/snapshots/other-app",
      "/var/lib/archipelago/state/secrets",
      "/var",
    ]) {
      const d = decideTakeOver(input({ sources: [found(VOLUME, path)] }));
      assert.equal(d.kind, "refuse", path);
      assert.match((d as { reason: string }).reason, /the platform's own data under \/var\/lib\/archipelago/);
    }
    // Legacy data beside the platform's directories (the earlier implementation's layout) is fine.
    for (const path of ["/var/lib/archipelago/electrumx", "/var/lib/archipelago/apps-old", "/srv/state"])
      assert.equal(
        decideTakeOver(input({ sources: [found({ kind: "data-path", path }, path)] })).kind,
        "copy",
        path,
      );
    // The data root as it resolves counts too (a data root reached through a symbolic link).
    assert.equal(
      decideTakeOver(
        input({
          dataRoots: ["/var/lib/archipelago", "/mnt/ssd/archy"],
          sources: [found(VOLUME, "/mnt/ssd/archy/state")],
        }),
      ).kind,
      "refuse",
    );
  });

  test("a running legacy container that mounts the source: prepare waits, create copies (and says so)", () => {
    const vol = "/home/u/.local/share/containers/storage/volumes/legacy-data/_data";
    const running: ContainerMounts[] = [
      { name: "old-web", volumes: ["legacy-data"], paths: [vol] },
      { name: "old-cache", volumes: [], paths: ["/srv/cache"] },
    ];
    assert.deepEqual(decideTakeOver(input({ sources: [found(VOLUME, vol)], running })), {
      kind: "defer",
      ref: VOLUME,
      usedBy: ["old-web"],
    });
    assert.deepEqual(decideTakeOver(input({ sources: [found(VOLUME, vol)], running, stage: "create" })), {
      kind: "copy",
      ref: VOLUME,
      from: vol,
      missing: [],
      stillUsedBy: ["old-web"],
    });
    // Nobody mounts it: copied at once.
    assert.equal(
      decideTakeOver(input({ sources: [found(VOLUME, vol)], running: running.slice(1) })).kind,
      "copy",
    );
  });

  test("property: a copy or an empty directory only when the target is missing; never from a refused source", () => {
    const ref = fc.constantFrom<LegacyRef>(PATH, VOLUME);
    const facts = fc.oneof(
      ref.map((r): SourceFacts => ({ ref: r, state: "missing" })),
      ref.map((r): SourceFacts => ({ ref: r, state: "unusable", reason: "no" })),
      fc
        .record({
          r: ref,
          path: fc.constantFrom(
            "/srv/a",
            "/srv/b",
            "/var/lib/archipelago/apps/legacy-app",
            "/var/lib/archipelago/state",
          ),
          real: fc.boolean(),
          directory: fc.boolean(),
        })
        .map(
          ({ r, path, real, directory }): SourceFacts => ({
            ref: r,
            state: "found",
            path,
            realPath: real ? path : "/elsewhere",
            directory,
          }),
        ),
    );
    const mounts = fc.array(
      fc.record({
        name: fc.constantFrom("old-a", "old-b"),
        volumes: fc.subarray(["legacy-data", "other"]),
        paths: fc.subarray(["/srv/a", "/srv", "/srv/b/sub", "/elsewhere"]),
      }),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(facts, { maxLength: 2 }),
        mounts,
        fc.constantFrom<"prepare" | "create">("prepare", "create"),
        (targetExists, sources, running, stage) => {
          const d = decideTakeOver(input({ targetExists, sources, running, stage }));
          if (targetExists) return assert.equal(d.kind, "keep");
          if (sources.length === 0) return assert.equal(d.kind, "create");
          assert.notEqual(d.kind, "keep");
          if (stage === "create") assert.notEqual(d.kind, "defer");
          if (d.kind === "copy") {
            const chosen = sources.find((s) => s.state !== "missing") as SourceFacts & { state: "found" };
            assert.equal(chosen.ref, d.ref);
            assert.equal(chosen.directory, true);
            if (chosen.ref.kind === "data-path") assert.equal(chosen.realPath, chosen.path);
            assert.ok(!/^\/var\/lib\/archipelago\/(apps|state)/.test(chosen.path));
          }
          if (d.kind === "fresh") assert.ok(sources.every((s) => s.state === "missing"));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("mountsSource", () => {
  test("by volume name, or a mounted path that contains the source or lies inside it", () => {
    const c = (volumes: string[], paths: string[]): ContainerMounts => ({ name: "c", volumes, paths });
    assert.equal(mountsSource(c(["legacy-data"], []), VOLUME, "/x"), true);
    assert.equal(mountsSource(c([], ["/srv/legacy/data"]), PATH, PATH.path), true);
    assert.equal(mountsSource(c([], ["/srv/legacy"]), PATH, PATH.path), true);
    assert.equal(mountsSource(c([], ["/srv/legacy/data/sub"]), PATH, PATH.path), true);
    assert.equal(mountsSource(c([], ["/srv/legacy/data2", "/srv/other"]), PATH, PATH.path), false);
    assert.equal(mountsSource(c(["legacy-data"], []), PATH, PATH.path), false);
  });
});

describe("volumesOf", () => {
  test("the app volumes one container mounts", () => {
    const m = manifest(
      [],
      [
        "  worker:",
        "    image: docker.io/library/nginx:1.27",
        "    volumes:",
        "      - { name: conf, path: /conf }",
      ],
    );
    const app = resolveApp(m, { dataRoot: "/d", dependencies: {} });
    assert.deepEqual(
      volumesOf(app, "web").map((v) => v.volume),
      ["conf", "data"],
    );
    assert.deepEqual(
      volumesOf(app, "worker").map((v) => v.volume),
      ["conf"],
    );
    assert.deepEqual(volumesOf(app, "nope"), []);
  });
});

describe("ensureAppData (temporary directories, fake runtime)", () => {
  type Logged = { level: string; message: string };
  const setup = (adoption: (dir: string) => string[], runtime: Partial<AdoptionRuntime> = {}) => {
    const dir = join(root, `case-${++n}`);
    mkdirSync(dir, { recursive: true });
    const m = manifest(adoption(dir));
    const app = resolveApp(m, { dataRoot: join(dir, "data"), dependencies: {} });
    const logs: Logged[] = [];
    const note: Note = (level, message) => logs.push({ level, message });
    const copies: Array<[string, string]> = [];
    const calls: string[] = [];
    const fake: AdoptionRuntime = {
      legacyVolumeData: async (name: string): Promise<VolumeData | undefined> => {
        calls.push(`volume ${name}`);
        return runtime.legacyVolumeData ? runtime.legacyVolumeData(name) : undefined;
      },
      runningMounts: async (names: readonly string[]) => {
        calls.push(`running ${names.join(",")}`);
        return runtime.runningMounts ? runtime.runningMounts(names) : [];
      },
    };
    const copy = async (source: string, target: string): Promise<DataCopy> => {
      copies.push([source, target]);
      mkdirSync(target, { recursive: true });
      writeFileSync(join(target, "copied-from"), source);
      return { method: "copy", noReflink: "Operation not supported" };
    };
    const run = (stage: "prepare" | "create" = "prepare", volumes = app.volumes) =>
      ensureAppData(fake, m, volumes, stage, note, { copy });
    const target = (volume: string) => join(dir, "data/apps/legacy-app/volumes", volume);
    return { dir, m, app, logs, copies, calls, run, target };
  };

  test("no adoption: plain directories, and the runtime is never asked (create: nothing at all)", async () => {
    const s = setup(() => []);
    await s.run("create");
    assert.equal(s.logs.length, 0);
    await s.run();
    assert.deepEqual(s.calls, []);
    assert.deepEqual(
      s.logs.map((l) => l.message),
      [`created data directory ${s.target("conf")}`, `created data directory ${s.target("data")}`],
    );
  });

  test("a data path is copied once; the existing directory is never overwritten", async () => {
    const s = setup((dir) => [`  data_paths: { data: ${dir}/legacy }`, "  volumes: { data: legacy-data }"]);
    mkdirSync(join(s.dir, "legacy"));
    await s.run();
    assert.deepEqual(s.copies, [[join(s.dir, "legacy"), s.target("data")]]);
    assert.deepEqual(s.calls, ["volume legacy-data"], "no legacy container to ask about");
    assert.equal(readFileSync(join(s.target("data"), "copied-from"), "utf8"), join(s.dir, "legacy"));
    const said = s.logs.map((l) => l.message).join("\n");
    assert.match(said, /took over legacy data path .*legacy into .*volumes\/data by plain copy/);
    assert.match(said, /ownership and modes kept; the legacy directory is left as it was/);
    assert.match(said, /created data directory .*volumes\/conf/);
    s.logs.length = 0;
    await s.run();
    await s.run("create");
    assert.equal(s.copies.length, 1, "copied only once");
    assert.deepEqual(s.logs, []);
  });

  test("the legacy volume when the data path is missing; both missing: a first start with empty data, said so", async () => {
    const s = setup((dir) => [`  data_paths: { data: ${dir}/gone }`, "  volumes: { data: legacy-data }"], {
      legacyVolumeData: async () => ({ path: join(root, "vol-data") }),
    });
    mkdirSync(join(root, "vol-data"), { recursive: true });
    await s.run();
    assert.deepEqual(s.copies, [[join(root, "vol-data"), s.target("data")]]);
    assert.ok(s.logs.some((l) => /legacy data path .*gone not found/.test(l.message)));
    assert.ok(
      s.logs.some((l) =>
        /took over legacy Podman volume legacy-data .*the legacy volume is left/.test(l.message),
      ),
    );

    const t = setup((dir) => [`  data_paths: { data: ${dir}/gone }`, "  volumes: { data: legacy-data }"]);
    await t.run();
    assert.deepEqual(t.copies, []);
    assert.ok(
      t.logs.some((l) =>
        /^volume data: a first start, with new empty data \(nothing to take over from an earlier installation: no legacy data path .*gone, no legacy Podman volume legacy-data\)$/.test(
          l.message,
        ),
      ),
      JSON.stringify(t.logs),
    );
    assert.ok(t.logs.some((l) => l.message === `created data directory ${t.target("data")}`));
  });

  test("a symbolic link as data path is refused: nothing created, the app fails with the reason", async () => {
    const s = setup((dir) => [`  data_paths: { data: ${dir}/link }`]);
    mkdirSync(join(s.dir, "real"));
    symlinkSync(join(s.dir, "real"), join(s.dir, "link"));
    await assert.rejects(s.run(), /resolves to .*real, not to the declared path/);
    assert.deepEqual(s.copies, []);
    assert.equal(existsSync(s.target("data")), false);
  });

  test("a legacy container still using the volume: prepare leaves it, create (after its removal) copies", async () => {
    let legacyRuns = true;
    const vol = join(root, "vol-busy");
    mkdirSync(vol, { recursive: true });
    const s = setup(() => ["  containers: { web: [old-web] }", "  volumes: { data: legacy-data }"], {
      legacyVolumeData: async () => ({ path: vol }),
      runningMounts: async (names) =>
        legacyRuns ? names.map((name) => ({ name, volumes: ["legacy-data"], paths: [vol] })) : [],
    });
    await s.run();
    assert.deepEqual(s.copies, []);
    assert.ok(
      s.logs.some((l) =>
        /taking over legacy Podman volume legacy-data waits until old-web stops/.test(l.message),
      ),
    );
    assert.ok(s.logs.some((l) => l.message === `created data directory ${s.target("conf")}`));
    legacyRuns = false; // the planner stopped and removed it
    await s.run("create", volumesOf(s.app, "web"));
    assert.deepEqual(s.copies, [[vol, s.target("data")]]);
  });
});
