/**
 * Whatever validates renders, correctly, on every target: manifests drawn from the schema's value
 * space with hostile values (test/support/hostile-manifests.ts) go through the validator, and each
 * one it accepts is rendered for the three targets without an error, then checked by the parts that
 * will read it:
 *
 * - Quadlet: the real generator (Debian 13's, Podman 5.4) turns every unit into a service without a
 *   complaint, `systemd-analyze verify` accepts every generated service, and the `podman run` argv
 *   systemd would execute (split and unescaped as systemd does) says exactly what the manifest says:
 *   each value reaches Podman whole, parsed by Podman's own option syntax.
 * - Podman: the create bodies carry the same values, with nothing Podman parses further (a device's
 *   `host:container`) able to say more.
 * - Kubernetes: the YAML parses, every name, label and hostname is one Kubernetes accepts, and the
 *   containers carry the manifest's values.
 *
 * One batch (fixed seed) for speed: every manifest's units go through one generator run and one
 * verify. A failure names the manifest and prints it. ARCHY_RENDER_FUZZ_RUNS=N draws more, and
 * ARCHY_RENDER_FUZZ_SEED=N others.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import type { Manifest } from "../../src/manifest/schema.ts";
import { healthTest } from "../../src/render/health.ts";
import { type RenderedFile, render } from "../../src/render/index.ts";
import {
  type RenderContext,
  type ResolvedApp,
  type ResolvedContainer,
  resolveApp,
} from "../../src/render/model.ts";
import { type ContainerCreateBody, podmanPlan } from "../../src/render/podman-spec.ts";
import { type HostileCase, hostileCases } from "../support/hostile-manifests.ts";
import { bySource, podmanHealthTest, podmanSecret } from "../support/podman-cli.ts";
import {
  complaints,
  execStart,
  flag,
  generateInto,
  readUnits,
  type Unit,
  verifyServices,
} from "../support/quadlet.ts";

const SEED = Number(process.env.ARCHY_RENDER_FUZZ_SEED ?? 120012);
const RUNS = Number(process.env.ARCHY_RENDER_FUZZ_RUNS ?? 250);
/** At least this share of the drawn manifests must validate, or the property says little. */
const MIN_VALID_SHARE = 0.25;
const ctx: RenderContext = { dataRoot: "/var/lib/archipelago", dependencies: {} };

type Valid = HostileCase & { manifest: Manifest; app: ResolvedApp };

const cases = hostileCases(SEED, RUNS);
const valid: Valid[] = cases.flatMap((c) =>
  c.result.ok ? [{ ...c, manifest: c.result.manifest, app: resolveApp(c.result.manifest, ctx) }] : [],
);

/**
 * Runs `check` on every valid manifest. Failures are grouped by their first line: each kind is shown
 * once, with the first manifest that fails that way.
 */
function eachValid(check: (c: Valid) => void): void {
  const failures = new Map<string, { count: number; example: string }>();
  for (const c of valid)
    try {
      check(c);
    } catch (error) {
      const message = (error as Error).message;
      const kind = (message.split("\n")[0] ?? "").replace(/\d+/g, "N").slice(0, 160);
      const found = failures.get(kind);
      if (found) found.count++;
      else failures.set(kind, { count: 1, example: `fuzz-${c.index}.yml: ${message}\n${c.text}` });
    }
  const shown = [...failures.values()].slice(0, 5).map((f) => `(${f.count} manifests) ${f.example}`);
  assert.deepEqual(
    shown,
    [],
    `${[...failures.values()].reduce((n, f) => n + f.count, 0)} of ${valid.length} fail`,
  );
}

test(`at least ${MIN_VALID_SHARE * 100}% of ${RUNS} hostile manifests validate (the property is not vacuous)`, () => {
  console.log(`# ${valid.length} of ${cases.length} drawn manifests are valid`);
  assert.ok(valid.length >= RUNS * MIN_VALID_SHARE, `only ${valid.length} valid`);
});

test("every valid manifest renders on all three targets", () => {
  eachValid((c) => {
    for (const target of ["quadlet", "podman", "kube"] as const) render(c.manifest, target, ctx);
  });
});

/* ------------------------------------------------------------------------------------------------ */
/* Quadlet                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

let dir: string;
let out: string;
let services: string[] = [];
let units = new Map<string, Unit>();
let generated: Awaited<ReturnType<typeof generateInto>>["run"];

describe("Quadlet: the real generator and systemd", () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "archy-render-fuzz-"));
    out = await mkdtemp(join(tmpdir(), "archy-render-fuzz-out-"));
    for (const c of valid) {
      let files: RenderedFile[] = [];
      try {
        files = render(c.manifest, "quadlet", ctx);
      } catch {
        continue; // the failure of a test of its own
      }
      for (const file of files) await writeFile(join(dir, file.path), file.content);
    }
    const run = await generateInto(dir, out);
    generated = run.run;
    services = run.services;
    units = await readUnits(out, services);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  });

  test("the generator turns every unit into a service, without a complaint", () => {
    assert.equal(generated.code, 0, generated.stderr);
    assert.deepEqual(complaints(generated), []);
    eachValid((c) => {
      for (const container of c.app.containers)
        assert.ok(units.has(`${container.name}.service`), `no service for ${container.name}`);
    });
  });

  test("systemd-analyze verify accepts every generated service", async () => {
    const verify = await verifyServices(out, services);
    const problems = `${verify.stdout}${verify.stderr}`.trim();
    const shown = valid
      .filter((c) => problems.includes(c.manifest.id))
      .slice(0, 3)
      .map((c) => c.text);
    assert.equal(problems, "", `${problems.slice(0, 3000)}\n${shown.join("\n---\n")}`);
    assert.equal(verify.code, 0);
  });

  test("systemd would run podman with exactly the manifest's values", () => {
    eachValid((c) => {
      for (const container of c.app.containers)
        checkRunArgs(c.app, container, units.get(`${container.name}.service`));
    });
  });
});

/** What Podman's CLI makes of the generated `podman run`, field by field, against the resolved app. */
function checkRunArgs(app: ResolvedApp, c: ResolvedContainer, unit: Unit | undefined): void {
  const argv = execStart(unit);
  // An image named like one of Quadlet's own image units gets the tag Podman would give it.
  const run = argv.indexOf("run");
  const image = argv.findIndex((a, i) => i > run && (a === c.image || a === `${c.image}:latest`));
  assert.ok(image > 0, `the image ${c.image} is an argument of ${JSON.stringify(argv)}`);
  const options = argv.slice(0, image);
  assert.deepEqual(argv.slice(image + 1), c.command ?? [], "the command, word for word");
  assert.deepEqual(flag(options, "--name"), [c.name]);
  if (c.entrypoint) assert.deepEqual(JSON.parse(flag(options, "--entrypoint")[0] ?? "null"), c.entrypoint);
  else assert.deepEqual(flag(options, "--entrypoint"), []);
  assert.deepEqual(flag(options, "--workdir"), c.workingDir === undefined ? [] : [c.workingDir]);
  assert.deepEqual(
    flag(options, "--user"),
    c.user === undefined ? [] : [c.user.gid === undefined ? `${c.user.uid}` : `${c.user.uid}:${c.user.gid}`],
  );
  const env = { ...c.env };
  for (const host of c.envHosts) env[host.variable] = host.containerName;
  assert.deepEqual(Object.fromEntries(flag(options, "--env").map((e) => e.split(/=(.*)/s).slice(0, 2))), env);

  const secrets = flag(options, "--secret").map(podmanSecret);
  assert.deepEqual(
    secrets.sort(bySource),
    [
      ...c.envSecrets.map((s) => ({ source: s.podmanSecret, type: "env", target: s.variable })),
      ...c.fileSecrets.map((s) => ({
        source: s.podmanSecret,
        type: "mount",
        target: s.target,
        uid: String(s.uid),
        gid: String(s.gid),
        mode: `0${s.mode.toString(8)}`,
      })),
    ].sort(bySource),
    "secrets, each one --secret whose options Podman reads back",
  );

  assert.deepEqual(
    flag(options, "-v").map((v) => {
      const parts = v.split(":");
      assert.ok(parts.length === 2 || parts.length === 3, `-v ${v} has ${parts.length} parts`);
      return { source: parts[0], path: parts[1], options: parts[2] ?? "" };
    }),
    c.mounts.map((m) => ({
      source: m.kind === "volume" ? m.podmanVolume : m.source,
      path: m.path,
      options: m.readOnly ? "ro" : "",
    })),
    "volumes: source, path and options as Podman splits them",
  );
  assert.deepEqual(
    flag(options, "--tmpfs").map((t) => t.split(/:(.*)/s).slice(0, 2)),
    c.tmpfs.map((path) => [path, "rw,nosuid,nodev"]),
    "tmpfs mounts: path and options as Podman splits them",
  );
  assert.deepEqual(
    flag(options, "--device").map((d) => d.split(":")),
    c.devices.map((d) => [d.host, d.path]),
    "devices: host and container paths as Podman splits them, and no permissions",
  );
  assert.deepEqual(
    flag(options, "--publish").map((p) => {
      const match = /^(\[[^\]]*\]|[^:]*):(\d+):(\d+)\/(tcp|udp)$/.exec(p);
      assert.ok(match, `--publish ${p}`);
      return [match[1]?.replace(/^\[|\]$/g, ""), Number(match[2]), Number(match[3]), match[4]];
    }),
    c.ports.filter((p) => p.host !== undefined).map((p) => [p.bind, p.host, p.container, p.protocol]),
  );
  assert.deepEqual(flag(options, "--cap-add").sort(), c.capAdd.map((cap) => cap.toLowerCase()).sort());
  assert.deepEqual(flag(options, "--stop-signal"), c.stopSignal ? [c.stopSignal.name] : []);
  assert.deepEqual(flag(options, "--stop-timeout"), [String(c.stopTimeoutSeconds)]);
  assert.deepEqual(
    options.filter((o) => o.startsWith("--memory")),
    c.memoryBytes === undefined ? [] : [`--memory=${c.memoryBytes}`],
  );
  const health = flag(options, "--health-cmd");
  assert.deepEqual(
    health.map(podmanHealthTest),
    c.health ? [healthTest(c.health)] : [],
    "the health check as Podman reads --health-cmd",
  );
  assert.equal(options.filter((o) => o === "--network").length, c.networks.length);
  assert.equal(app.network, c.networks[0]?.network);
}

/* ------------------------------------------------------------------------------------------------ */
/* Podman                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

test("Podman: the create bodies carry the values whole", () => {
  eachValid((c) => {
    const plan = podmanPlan(c.manifest, ctx);
    for (const [i, container] of c.app.containers.entries()) {
      const body = plan.containers[i]?.body as ContainerCreateBody;
      assert.deepEqual(
        (body.devices ?? []).map((d) => d.path.split(":")),
        container.devices.map((d) => [d.host, d.path]),
        "devices: host and container paths as libpod splits them, and no permissions",
      );
      assert.deepEqual(body.command, container.command);
      assert.deepEqual(body.entrypoint, container.entrypoint);
      assert.deepEqual(body.work_dir, container.workingDir);
      if (body.user !== undefined) {
        const [uid, gid] = body.user.split(":").map(Number);
        for (const id of [uid, gid])
          if (id !== undefined) assert.ok(id >= 0 && id < 2 ** 31, `user ${body.user}`);
      }
      if (body.resource_limits) assert.ok(Number.isSafeInteger(body.resource_limits.memory.limit));
      if (body.healthconfig)
        for (const ns of [
          body.healthconfig.Interval,
          body.healthconfig.Timeout,
          body.healthconfig.StartPeriod,
        ])
          assert.ok(Number.isSafeInteger(ns) && ns < 2 ** 63, `a health duration of ${ns} ns`);
    }
  });
});

/* ------------------------------------------------------------------------------------------------ */
/* Kubernetes                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const MAX_INT32 = 2 ** 31 - 1;

function assertDnsLabel(name: unknown, what: string): void {
  assert.ok(
    typeof name === "string" && name.length <= 63 && DNS_LABEL.test(name),
    `${what} ${JSON.stringify(name)}`,
  );
}

function assertSubdomain(name: unknown, what: string): void {
  assert.ok(
    typeof name === "string" && name.length <= 253 && name.split(".").every((part) => DNS_LABEL.test(part)),
    `${what} ${JSON.stringify(name)} is not a DNS subdomain`,
  );
}

function assertQualifiedKey(key: string, what: string): void {
  const [prefix, name] = key.includes("/") ? key.split("/") : [undefined, key];
  if (prefix !== undefined) assertSubdomain(prefix, `${what} prefix`);
  assert.ok(name !== undefined && name.length <= 63 && QUALIFIED_NAME.test(name), `${what} key ${key}`);
}

function assertMetadata(metadata: Record<string, unknown>, kind: string): void {
  if (kind === "Service")
    assert.ok(DNS_1035.test(String(metadata.name)) && String(metadata.name).length <= 63);
  else assertSubdomain(metadata.name, `${kind} name`);
  for (const [key, value] of Object.entries((metadata.labels ?? {}) as Record<string, string>)) {
    assertQualifiedKey(key, "label");
    assert.ok(value.length <= 63 && LABEL_VALUE.test(value), `label ${key}: ${JSON.stringify(value)}`);
  }
  for (const key of Object.keys((metadata.annotations ?? {}) as Record<string, string>))
    assertQualifiedKey(key, "annotation");
}

type KubeContainer = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Array<{ name: string; value?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  securityContext: { runAsUser?: number; runAsGroup?: number };
};

test("Kubernetes: the YAML parses into objects Kubernetes accepts, with the manifest's values", () => {
  eachValid((c) => {
    const [file] = render(c.manifest, "kube", ctx);
    const docs = YAML.parseAllDocuments(file?.content ?? "");
    for (const doc of docs) assert.deepEqual(doc.errors, [], "the YAML parses");
    const objects = docs.map((doc) => doc.toJS() as Record<string, unknown>);
    for (const object of objects)
      assertMetadata(object.metadata as Record<string, unknown>, String(object.kind));
    const deployment = objects.find((o) => o.kind === "Deployment") as {
      spec: {
        template: {
          metadata: Record<string, unknown>;
          spec: {
            containers: KubeContainer[];
            volumes?: Array<{ name: string; secret?: { items: Array<{ key: string; path: string }> } }>;
            hostAliases: Array<{ hostnames: string[] }>;
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    assertMetadata({ name: "pod", ...deployment.spec.template.metadata }, "Pod");
    for (const alias of pod.hostAliases)
      for (const host of alias.hostnames) assertSubdomain(host, "hostAliases hostname");
    for (const volume of pod.volumes ?? []) {
      assertDnsLabel(volume.name, "volume name");
      for (const item of volume.secret?.items ?? [])
        assert.ok(
          item.path !== "" && !item.path.startsWith("/") && !item.path.split("/").includes(".."),
          `secret item path ${JSON.stringify(item.path)}`,
        );
    }
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    assert.equal(pod.containers.length, c.app.containers.length);
    for (const [i, container] of c.app.containers.entries()) {
      const k = pod.containers[i] as KubeContainer;
      assertDnsLabel(k.name, "container name");
      assert.equal(k.name, container.key);
      assert.deepEqual(k.command, container.entrypoint);
      assert.deepEqual(k.args, container.command);
      assert.equal(k.workingDir, container.workingDir);
      for (const [name, value] of Object.entries(container.env))
        assert.equal(k.env?.find((e) => e.name === name)?.value, value, `env ${name}`);
      for (const id of [k.securityContext.runAsUser, k.securityContext.runAsGroup])
        if (id !== undefined) assert.ok(Number.isInteger(id) && id >= 0 && id <= MAX_INT32, `runAs ${id}`);
      const paths = (k.volumeMounts ?? []).map((m) => m.mountPath);
      assert.equal(new Set(paths).size, paths.length, `mount paths are unique: ${paths.join(", ")}`);
      for (const mount of k.volumeMounts ?? [])
        assert.ok(volumes.has(mount.name), `mount of volume ${mount.name}`);
      for (const secret of container.fileSecrets) {
        // The file appears at its target: a secret volume mounted on its directory, or the file alone.
        const file = (k.volumeMounts ?? []).flatMap((m) => {
          const items = pod.volumes?.find((v) => v.name === m.name)?.secret?.items ?? [];
          const path = m.subPath ?? posix.relative(m.mountPath, secret.target);
          const at = m.subPath === undefined ? posix.join(m.mountPath, path) : m.mountPath;
          return at === secret.target && items.some((i) => i.key === secret.secret && i.path === path)
            ? [m]
            : [];
        });
        assert.equal(file.length, 1, `secret ${secret.secret} appears at ${secret.target}`);
      }
    }
  });
});
