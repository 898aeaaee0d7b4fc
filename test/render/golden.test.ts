/**
 * The renderers' output for every sample app and target, compared byte for byte with the golden
 * files under src/render/golden/<target>/<app>/. After an intended change, rewrite them with
 *   UPDATE_GOLDEN=1 node_modules/.bin/node --test test/render/golden.test.ts
 * and review the diff. Also: determinism (same input, same bytes, whatever the key order), the spec
 * hash, the dependency error and the secret rules.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { before, describe, test } from "node:test";
import YAML from "yaml";
import { LABELS } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import { canonicalJson } from "../../src/render/canonical.ts";
import { RENDER_TARGETS, RenderError, type RenderedFile, render } from "../../src/render/index.ts";
import { kubeSecretName, renderKube, renderKubeWithWarnings } from "../../src/render/kube.ts";
import { podmanPlan } from "../../src/render/podman-spec.ts";
import { specHash } from "../../src/render/spec-hash.ts";
import { contextFor, loadSamples, SAMPLE_IDS } from "../support/samples.ts";

const GOLDEN = resolve(import.meta.dirname, "../../src/render/golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

let samples: Record<string, Manifest>;
before(async () => {
  samples = await loadSamples();
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Renders of apps installed under naming scheme 1 (their names on nodes that had them): see below. */
const LEGACY_NAMES = "legacy-names";

/** The golden files of one render: rewritten with UPDATE_GOLDEN=1, else compared byte for byte. */
async function compareWithGolden(files: RenderedFile[], dir: string, what: string): Promise<void> {
  if (UPDATE) {
    await rm(dir, { recursive: true, force: true });
    for (const file of files) {
      await mkdir(dirname(join(dir, file.path)), { recursive: true });
      await writeFile(join(dir, file.path), file.content);
    }
  }
  assert.deepEqual(
    files.map((f) => f.path).sort(),
    await listFiles(dir),
    `the rendered file set differs from ${dir} (UPDATE_GOLDEN=1 rewrites it)`,
  );
  for (const file of files)
    assert.equal(
      file.content,
      await readFile(join(dir, file.path), "utf8"),
      `${what}/${file.path} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`,
    );
}

describe("golden files", () => {
  for (const target of RENDER_TARGETS)
    for (const id of SAMPLE_IDS)
      test(`${target} ${id}`, async () => {
        const manifest = samples[id] as Manifest;
        const files = render(manifest, target, contextFor(manifest, samples));
        await compareWithGolden(files, join(GOLDEN, target, id), `${target}/${id}`);
      });

  // An app installed before naming scheme 2 keeps its names, so its containers keep their spec
  // hashes and a daemon upgrade recreates none of them: these files were the golden files of the
  // release before scheme 2 (byte for byte), and only a change of the renders themselves may change them.
  for (const target of ["podman", "quadlet"] as const)
    for (const id of SAMPLE_IDS)
      test(`${target} ${id}, installed under naming scheme 1: the names and renders of earlier releases`, async () => {
        const manifest = samples[id] as Manifest;
        const base = contextFor(manifest, samples);
        const naming = Object.fromEntries(
          [id, ...Object.keys(base.dependencies)].map((app) => [app, 1 as const]),
        );
        const files = render(manifest, target, { ...base, naming });
        await compareWithGolden(
          files,
          join(GOLDEN, LEGACY_NAMES, target, id),
          `${LEGACY_NAMES}/${target}/${id}`,
        );
      });
});

/** A deep copy with object keys in a shuffled order (arrays keep their order: it is meaningful). */
function shuffleKeys<T>(value: T, random: () => number): T {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, random)) as T;
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
  }
  return Object.fromEntries(
    keys.map((k) => [k, shuffleKeys((value as Record<string, unknown>)[k], random)]),
  ) as T;
}

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("determinism", () => {
  test("rendering twice gives identical bytes", () => {
    for (const target of RENDER_TARGETS)
      for (const id of SAMPLE_IDS) {
        const m = samples[id] as Manifest;
        assert.deepEqual(
          render(m, target, contextFor(m, samples)),
          render(m, target, contextFor(m, samples)),
        );
      }
  });

  test("the key order of the input does not matter", () => {
    for (const seed of [1, 2, 3, 42]) {
      const random = seeded(seed);
      const shuffled = Object.fromEntries(
        Object.entries(samples).map(([id, m]) => [id, shuffleKeys(m, random)]),
      ) as Record<string, Manifest>;
      // The shuffle really changed the order somewhere, or this test would prove nothing.
      assert.notEqual(JSON.stringify(shuffled.notes), JSON.stringify(samples.notes));
      for (const target of RENDER_TARGETS)
        for (const id of SAMPLE_IDS) {
          const a = samples[id] as Manifest;
          const b = shuffled[id] as Manifest;
          assert.deepEqual(
            render(b, target, contextFor(b, shuffled)),
            render(a, target, contextFor(a, samples)),
            `${target} ${id}`,
          );
        }
    }
  });

  test("no output depends on the clock or the environment", () => {
    const m = samples.notes as Manifest;
    const before = render(m, "quadlet", contextFor(m, samples));
    const saved = process.env.TZ;
    process.env.TZ = "Pacific/Kiritimati";
    try {
      assert.deepEqual(render(m, "quadlet", contextFor(m, samples)), before);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

describe("spec hash", () => {
  test("is the sha256 of the canonical create body without the hash label, on both backends", () => {
    for (const id of SAMPLE_IDS) {
      const m = samples[id] as Manifest;
      const plan = podmanPlan(m, contextFor(m, samples));
      const quadlet = render(m, "quadlet", contextFor(m, samples));
      for (const c of plan.containers) {
        const { [LABELS.specHash]: label, ...rest } = c.body.labels;
        const expected = createHash("sha256")
          .update(canonicalJson({ ...c.body, labels: rest }))
          .digest("hex");
        assert.match(expected, /^[0-9a-f]{64}$/);
        assert.equal(label, expected);
        assert.equal(c.hash, expected);
        assert.equal(specHash(c.body), expected, "specHash ignores an existing hash label");
        const unit = quadlet.find((f) => f.path === `${c.name}.container`);
        assert.ok(unit, `${c.name}.container rendered`);
        assert.ok(
          unit.content.includes(`\nLabel=${LABELS.specHash}=${expected}\n`),
          `${c.name}: Quadlet carries the same hash`,
        );
      }
    }
  });

  test("changes when the container changes, and only that container's", () => {
    const m = samples.notes as Manifest;
    const changed = structuredClone(m);
    (changed.containers.web as Manifest["containers"][string]).environment.PORT = 8080;
    const a = podmanPlan(m, contextFor(m, samples)).containers;
    const b = podmanPlan(changed, contextFor(changed, samples)).containers;
    const hash = (list: typeof a, key: string) => list.find((c) => c.key === key)?.hash;
    assert.notEqual(hash(a, "web"), hash(b, "web"));
    assert.equal(hash(a, "db"), hash(b, "db"));
    assert.equal(hash(a, "cache"), hash(b, "cache"));
  });
});

describe("dependencies", () => {
  test("a consumed dependency that is missing is named in the error", () => {
    const m = samples["mini-explorer"] as Manifest;
    for (const target of RENDER_TARGETS)
      assert.throws(
        () => render(m, target, { dataRoot: "/data", dependencies: {} }),
        (error: Error) =>
          error instanceof RenderError &&
          error.message.includes("'mini-node'") &&
          error.message.includes("containers.explorer.environment.RPC_HOST"),
      );
  });

  test("an unknown export is named with the ones that exist", () => {
    const m = structuredClone(samples["mini-explorer"] as Manifest);
    (m.containers.explorer as Manifest["containers"][string]).environment.RPC_HOST = {
      app: "mini-node",
      export: "hostname",
    };
    assert.throws(
      () => render(m, "podman", contextFor(m, samples)),
      /no export 'hostname' \(it exports: host, rpc-password, rpc-port, rpc-user\)/,
    );
  });

  test("an app that consumes nothing renders without any dependency", () => {
    for (const id of ["hello-web", "notes", "mini-node"])
      for (const target of RENDER_TARGETS)
        assert.ok(
          render(samples[id] as Manifest, target, { dataRoot: "/data", dependencies: {} }).length > 0,
        );
  });
});

describe("secrets", () => {
  test("only references reach the output: env secrets are secret_env / Secret= / secretKeyRef", () => {
    const m = samples["mini-explorer"] as Manifest;
    const ctx = contextFor(m, samples);
    const [body] = podmanPlan(m, ctx).containers.map((c) => c.body);
    assert.ok(body);
    assert.equal(body.env.RPC_PASSWORD, undefined, "secret env must not be plain env");
    assert.deepEqual(body.secret_env, { RPC_PASSWORD: "archy-mini-node_rpc-password" });
    assert.deepEqual(body.secrets, [
      {
        Source: "archy-mini-explorer_session-key",
        Target: "/run/secrets/session-key",
        UID: 1000,
        GID: 1000,
        Mode: 0o400,
      },
    ]);
    const unit = render(m, "quadlet", ctx).find((f) => f.path.endsWith(".container"))?.content ?? "";
    assert.match(unit, /^Secret=archy-mini-node_rpc-password,type=env,target=RPC_PASSWORD$/m);
    assert.doesNotMatch(unit, /^Environment=.*RPC_PASSWORD/m);
    const docs = YAML.parseAllDocuments(render(m, "kube", ctx)[0]?.content ?? "").map((d) => d.toJS());
    assert.ok(!docs.some((d) => d.kind === "Secret"), "no Secret document unless values are passed");
    const env = docs.find((d) => d.kind === "Deployment").spec.template.spec.containers[0].env;
    assert.deepEqual(
      env.find((e: { name: string }) => e.name === "RPC_PASSWORD"),
      {
        name: "RPC_PASSWORD",
        valueFrom: { secretKeyRef: { key: "rpc-password", name: "mini-node-secrets" } },
      },
    );
  });

  test("a Secret document appears only with explicit values, and holds exactly the declared secrets", () => {
    const m = samples["mini-node"] as Manifest;
    const ctx = contextFor(m, samples);
    const content =
      renderKube(m, ctx, { secretValues: { "rpc-password": "s3cr3t-value" } })[0]?.content ?? "";
    const secret = YAML.parseAllDocuments(content)
      .map((d) => d.toJS())
      .find((d) => d.kind === "Secret");
    assert.deepEqual(secret.metadata.name, kubeSecretName("mini-node"));
    assert.deepEqual(secret.stringData, { "rpc-password": "s3cr3t-value" });
    assert.throws(() => renderKube(m, ctx, { secretValues: {} }), /no value given for secrets: rpc-password/);
    assert.throws(
      () => renderKube(m, ctx, { secretValues: { "rpc-password": "x", other: "y" } }),
      /undeclared secrets: other/,
    );
  });
});

describe("edge cases", () => {
  const ctx = { dataRoot: "/data/", dependencies: {} };
  const hello = () => structuredClone(samples["hello-web"] as Manifest);
  const web = (m: Manifest) => m.containers.web as Manifest["containers"][string];

  test("an IPv6 bind address is bracketed in PublishPort= and kept in the create body", () => {
    const m = hello();
    (web(m).ports[0] as { bind: string }).bind = "::1";
    const unit = render(m, "quadlet", ctx).find((f) => f.path === "hello-web.container")?.content ?? "";
    assert.match(unit, /^PublishPort=\[::1\]:18080:8080\/tcp$/m);
    assert.equal(podmanPlan(m, ctx).containers[0]?.body.portmappings?.[0]?.host_ip, "::1");
  });

  test("an image named like a Quadlet image unit (.image, .build) gets Podman's default tag in Image=", () => {
    const m = hello();
    web(m).image = "registry.example.org/team/app.image";
    const unit = render(m, "quadlet", ctx).find((f) => f.path === "hello-web.container")?.content ?? "";
    assert.match(unit, /^Image=registry\.example\.org\/team\/app\.image:latest$/m);
    assert.equal(podmanPlan(m, ctx).containers[0]?.body.image, "registry.example.org/team/app.image");
  });

  test("the data root is used as given, without a doubled slash", () => {
    assert.equal(podmanPlan(hello(), ctx).volumes[0]?.Options.device, "/data/apps/hello-web/volumes/content");
  });

  test("an unknown stop signal is a clear error", () => {
    const m = hello();
    web(m).stop_signal = "SIGBOGUS";
    assert.throws(() => render(m, "podman", ctx), /containers\.web\.stop_signal: unknown signal SIGBOGUS/);
  });

  test("two containers of a stack on the same port render for Kubernetes, with a warning that only one can bind it", () => {
    const m = structuredClone(samples.notes as Manifest);
    // Published on two host ports, so that the Service lists the port (once).
    (m.containers.cache as Manifest["containers"][string]).ports = [
      { container: 5432, host: 15432, protocol: "tcp", bind: "127.0.0.1" },
    ];
    (m.containers.db as Manifest["containers"][string]).ports = [
      { container: 5432, host: 15433, protocol: "tcp", bind: "127.0.0.1" },
    ];
    const { files, warnings } = renderKubeWithWarnings(m, ctx);
    const shared = warnings.filter((w) => /only one of them can bind/.test(w.message));
    assert.deepEqual(
      shared.map((w) => w.field),
      ["containers.db.ports"],
      "one warning, on the container that comes second in start order",
    );
    assert.match(shared[0]?.message ?? "", /listens on 5432\/tcp \(as cache does\)/);
    const service = YAML.parseAllDocuments(files[0]?.content ?? "")
      .map((d) => d.toJS())
      .find((d) => d.kind === "Service");
    assert.deepEqual(
      service?.spec.ports.map((p: { name: string }) => p.name),
      ["tcp-80", "tcp-5432"],
      "the port is the pod's once",
    );
  });

  test("a secret file whose directory another mount takes (or the root) is mounted by itself in Kubernetes", () => {
    const m = hello();
    m.secrets = { pw: { type: "alphanumeric", length: 16 }, key: { type: "hex", length: 16 } };
    web(m).volumes = [{ name: "secrets", path: "/run/secrets", read_only: false }];
    web(m).secrets = [
      { secret: "pw", target: "/pw" },
      { secret: "key", target: "/run/secrets/key" },
    ];
    const { files, warnings } = renderKubeWithWarnings(m, ctx);
    const container = YAML.parseAllDocuments(files[0]?.content ?? "")
      .map((d) => d.toJS())
      .find((d) => d.kind === "Deployment").spec.template.spec.containers[0];
    const mounts = container.volumeMounts
      .map((v: { mountPath: string; subPath?: string }) => [v.mountPath, v.subPath])
      .filter(([path]: [string]) => /^\/(pw|run\/secrets)/.test(path));
    assert.deepEqual(mounts, [
      ["/pw", "pw"],
      ["/run/secrets", undefined],
      ["/run/secrets/key", "key"],
    ]);
    assert.match(
      warnings.find((w) => w.field === "containers.web.secrets")?.message ?? "",
      /the secret files in \/, \/run\/secrets are mounted one by one \(subPath\)/,
    );
  });

  test("a container name that cannot be a host name in Kubernetes is left out of hostAliases, with a warning", () => {
    const m = hello();
    web(m).container_name = "Hello_Web";
    const { files, warnings } = renderKubeWithWarnings(m, ctx);
    const pod = YAML.parseAllDocuments(files[0]?.content ?? "")
      .map((d) => d.toJS())
      .find((d) => d.kind === "Deployment").spec.template.spec;
    assert.deepEqual(pod.hostAliases, [{ ip: "127.0.0.1", hostnames: ["web"] }]);
    assert.match(
      warnings.find((w) => w.field === "containers.web.container_name")?.message ?? "",
      /Hello_Web cannot be a host name in Kubernetes/,
    );
    web(m).container_name = "Hello-Web";
    const lower = YAML.parseAllDocuments(renderKube(m, ctx)[0]?.content ?? "")
      .map((d) => d.toJS())
      .find((d) => d.kind === "Deployment").spec.template.spec;
    assert.deepEqual(
      lower.hostAliases,
      [{ ip: "127.0.0.1", hostnames: ["hello-web", "web"] }],
      "lower case resolves alike",
    );
  });

  test("an app id longer than a Kubernetes label value is shortened there, and its claims are valid names", () => {
    const m = hello();
    m.id = `publisher-${"x".repeat(30)}.app-${"y".repeat(35)}`;
    const docs = YAML.parseAllDocuments(renderKube(m, ctx)[0]?.content ?? "").map((d) => d.toJS());
    for (const doc of docs) {
      const value = doc.metadata.labels[LABELS.app] as string;
      assert.ok(value.length <= 63 && value.startsWith("publisher-"), value);
    }
    const claim = docs.find((d) => d.kind === "PersistentVolumeClaim").metadata.name as string;
    assert.ok(
      claim.split(".").every((label) => label.length <= 63),
      claim,
    );
    const mounted = docs.find((d) => d.kind === "Deployment").spec.template.spec.volumes;
    assert.ok(
      mounted.some(
        (v: { persistentVolumeClaim?: { claimName: string } }) =>
          v.persistentVolumeClaim?.claimName === claim,
      ),
    );
  });

  test("a read-only container gets writable /run, /tmp and /var/tmp on every backend", () => {
    const m = structuredClone(samples.notes as Manifest);
    const body = podmanPlan(m, ctx).containers.find((c) => c.key === "cache")?.body;
    assert.deepEqual(
      body?.mounts?.filter((x) => x.type === "tmpfs").map((x) => x.destination),
      ["/run", "/tmp", "/var/tmp"],
    );
    const unit = render(m, "quadlet", ctx).find((f) => f.path === "notes--cache.container")?.content ?? "";
    assert.deepEqual(unit.match(/^Tmpfs=.*$/gm), [
      "Tmpfs=/run:rw,nosuid,nodev",
      "Tmpfs=/tmp:rw,nosuid,nodev",
      "Tmpfs=/var/tmp:rw,nosuid,nodev",
    ]);
  });

  test("a namespaced app id becomes a DNS label in Kubernetes names, never another id's", () => {
    const kubeNames = (id: string) => {
      const m = hello();
      m.id = id;
      const docs = YAML.parseAllDocuments(render(m, "kube", ctx)[0]?.content ?? "").map((d) => d.toJS());
      return ["Deployment", "Service", "PersistentVolumeClaim"].map(
        (kind) => docs.find((d) => d.kind === kind).metadata.name,
      );
    };
    assert.deepEqual(kubeNames("alice.hello"), ["alice--hello", "alice--hello", "archy-alice.hello.content"]);
    // Both ids used to be `alice-hello` in Kubernetes: one app's objects were the other's.
    assert.deepEqual(kubeNames("alice-hello"), ["alice-hello", "alice-hello", "archy-alice-hello.content"]);
  });
});
