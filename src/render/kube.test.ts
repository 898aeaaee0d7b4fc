/**
 * What the Kubernetes render keeps of the manifest, and how it says what it cannot keep: the exact
 * http status of a health check, the stop signal, the start order of a stack, which ports the Service
 * offers, and the Secrets a user must create. Byte-level output is in the golden files
 * (test/render/golden.test.ts); `podman kube play` of it in test/render/kube-play.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { before, describe, test } from "node:test";
import YAML from "yaml";
import { contextFor, loadSamples } from "../../test/support/samples.ts";
import { type Manifest, ManifestSchema } from "../manifest/schema.ts";
import { probeCommand } from "./health.ts";
import { KUBE_WARNINGS_ANNOTATION, type KubeWarning, renderKube, renderKubeWithWarnings } from "./kube.ts";
import type { RenderContext } from "./model.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed Kubernetes YAML, navigated by field names
type Doc = Record<string, any>;

let samples: Record<string, Manifest>;
before(async () => {
  samples = await loadSamples();
});

const bare: RenderContext = { dataRoot: "/srv/archy", dependencies: {} };

function render(manifest: Manifest, ctx: RenderContext = contextFor(manifest, samples)) {
  const { files, warnings } = renderKubeWithWarnings(manifest, ctx);
  const content = files[0]?.content ?? "";
  const docs = YAML.parseAllDocuments(content).map((d) => d.toJS() as Doc);
  const deployment = docs.find((d) => d.kind === "Deployment") as Doc;
  const containers = deployment.spec.template.spec.containers as Doc[];
  const container = (name: string) => containers.find((c) => c.name === name) as Doc;
  return { content, docs, deployment, containers, container, warnings };
}

function warningOf(warnings: KubeWarning[], field: string): KubeWarning {
  const found = warnings.find((w) => w.field === field);
  assert.ok(found, `a warning for ${field} (got: ${warnings.map((w) => w.field).join(", ")})`);
  return found;
}

/** The warning is said everywhere a user may look: the result, the file's header, the annotation. */
function assertCarried(r: ReturnType<typeof render>, warning: KubeWarning): void {
  const annotation = r.deployment.metadata.annotations[KUBE_WARNINGS_ANNOTATION] as string;
  assert.ok(annotation.split("\n").includes(`${warning.field}: ${warning.message}`), "in the annotation");
  const header = r.content
    .split("\n")
    .filter((l) => l.startsWith("#"))
    .map((l) => l.replace(/^# ?-? */, ""))
    .join(" ");
  assert.ok(header.includes(`${warning.field}: ${warning.message}`), "in the header");
}

/** A one-container app, validated as a loaded manifest is (defaults applied). */
function app(container: Record<string, unknown>, extra: Record<string, unknown> = {}): Manifest {
  return ManifestSchema.parse({
    manifest: 1,
    id: "globex.keyring",
    version: "1.0.0",
    name: "Keyring",
    description: "A test app.",
    containers: { worker: { image: "registry.example.org/globex/keyring:1", ...container } },
    ...extra,
  });
}

describe("health checks", () => {
  test("an http check is an exec probe of the daemon's own command: the exact status, not any 200-399", () => {
    for (const status of [200, 204, 302]) {
      const m = app({
        ports: [{ container: 8080, host: 18080 }],
        health: { type: "http", port: 8080, path: "/health", status },
      });
      const worker = render(m, bare).container("worker");
      const command = probeCommand(
        m.containers.worker?.health as NonNullable<Manifest["containers"][string]["health"]>,
      );
      for (const probe of [worker.livenessProbe, worker.readinessProbe]) {
        assert.equal(probe.httpGet, undefined, `status ${status}: no httpGet, which accepts any 200-399`);
        assert.deepEqual(probe.exec.command, command);
        assert.match(probe.exec.command[2], new RegExp(`"${status}"\\|"${status} "`));
      }
    }
  });

  test("a tcp check tests a listening socket in the container, as on the other backends", () => {
    const notes = samples.notes as Manifest;
    const r = render(notes);
    for (const key of ["db", "cache"]) {
      const probe = r.container(key).livenessProbe;
      assert.equal(probe.tcpSocket, undefined);
      assert.deepEqual(probe.exec.command, probeCommand(notes.containers[key]?.health as never));
    }
  });

  test("an exec check runs its command as given, with the manifest's timing", () => {
    const node = render(samples["mini-node"] as Manifest).container("node");
    assert.deepEqual(node.livenessProbe, {
      exec: {
        command: ["/bin/sh", "-c", 'wget -q -O /dev/null "http://$RPC_USER:$RPC_PASSWORD@127.0.0.1:8332/"'],
      },
      failureThreshold: 3,
      initialDelaySeconds: 5,
      periodSeconds: 5,
      timeoutSeconds: 3,
    });
  });
});

describe("stop_signal", () => {
  test("a preStop hook sends the manifest's signal to PID 1 and waits for it to exit", () => {
    const r = render(samples.notes as Manifest);
    assert.deepEqual(r.container("cache").lifecycle, {
      preStop: {
        exec: {
          command: ["/bin/sh", "-c", "kill -2 1 && while kill -0 1 2>/dev/null; do sleep 1 || break; done"],
        },
      },
    });
    assert.equal(
      r.container("db").lifecycle,
      undefined,
      "no stop_signal, no hook: the image's STOPSIGNAL applies",
    );
    assert.equal(r.container("web").lifecycle, undefined);
    assert.equal(
      r.deployment.spec.template.spec.terminationGracePeriodSeconds,
      5,
      "the hook waits within stop_timeout",
    );
  });

  test("the hook signals PID 1 only with its signal, waits for it to exit, and returns without sleep", async () => {
    const command = render(samples.notes as Manifest).container("cache").lifecycle.preStop.exec
      .command as string[];
    // The hook's own script, with PID 1 replaced by a worker of ours that stops on SIGINT only.
    const script = (command[2] as string).replace(/kill -(\d+) 1\b/g, 'kill -$1 "$WORKER"');
    assert.notEqual(script, command[2]);
    const worker = (onInt: string) => {
      const child = spawn(
        "/bin/sh",
        ["-c", `trap '${onInt}' INT; trap 'echo TERM' TERM; echo ready; while :; do sleep 0.1; done`],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      const ready = new Promise<void>((done) => child.stdout.once("data", () => done()));
      return { child, exited, ready, output: () => out };
    };
    // Asynchronous, so that this process reaps the worker: a zombie would still answer `kill -0`.
    // The spawn's time limit is only a ceiling against a hook that never returns (killed: code null).
    const hook = (pid: number, path = process.env.PATH) =>
      new Promise<number | null>((done) =>
        spawn("/bin/sh", ["-c", script], { env: { WORKER: String(pid), PATH: path }, timeout: 60_000 }).on(
          "exit",
          (code) => done(code),
        ),
      );

    const stopping = worker("echo INT; exit 0");
    await stopping.ready;
    assert.equal(
      await hook(stopping.child.pid as number),
      0,
      "the hook returned by itself once the worker exited",
    );
    assert.equal(await stopping.exited, 0);
    assert.equal(stopping.output(), "ready\nINT\n", "SIGINT, and no SIGTERM");

    // An image without `sleep`: the hook returns at once rather than spin, and Kubernetes' stop follows.
    const stubborn = worker("echo INT");
    await stubborn.ready;
    try {
      assert.equal(await hook(stubborn.child.pid as number, "/nonexistent"), 0);
      await new Promise((r) => setTimeout(r, 500)); // the worker's trap runs once its own sleep ends
      assert.equal(stubborn.child.exitCode, null, "the worker still runs: Kubernetes' stop comes next");
    } finally {
      stubborn.child.kill("SIGKILL");
    }
    await stubborn.exited;
    assert.equal(stubborn.output(), "ready\nINT\n");
  });

  test("the loss is a warning naming the field, the signal and the exact fix", () => {
    const r = render(samples.notes as Manifest);
    const warning = warningOf(r.warnings, "containers.cache.stop_signal");
    assert.match(warning.message, /preStop hook sends SIGINT/);
    assert.match(warning.message, /needs \/bin\/sh/);
    assert.match(warning.message, /podman kube play ignores/);
    assert.match(warning.message, /STOPSIGNAL SIGINT/);
    assertCarried(r, warning);
    assert.ok(!r.warnings.some((w) => w.field === "containers.db.stop_signal"));
  });
});

describe("init", () => {
  test("no Kubernetes equivalent: a warning naming the container and the exact fix", () => {
    const r = render(app({ init: true }), bare);
    const warning = warningOf(r.warnings, "containers.worker.init");
    assert.match(warning.message, /worker runs as PID 1 without it/);
    assertCarried(r, warning);
    assert.ok(!render(app({}), bare).warnings.some((w) => w.field.endsWith(".init")));
  });
});

describe("hooks", () => {
  test("every hook with steps is a warning naming its steps and what to do instead; none is dropped silently", () => {
    const withHooks = app(
      {},
      {
        hooks: {
          pre_start: [
            {
              copy_from_host: {
                from: "files/keyring.conf",
                container: "worker",
                to: "/etc/keyring/keyring.conf",
              },
            },
          ],
          post_install: [{ exec: { container: "worker", command: ["keyring", "init"] } }],
        },
      },
    );
    const r = render(withHooks, bare);
    const preStart = warningOf(r.warnings, "hooks.pre_start");
    assert.match(preStart.message, /^not rendered: the daemon runs pre_start before/);
    assert.match(
      preStart.message,
      /Step 1 copies files\/keyring\.conf to worker:\/etc\/keyring\/keyring\.conf/,
    );
    assert.match(preStart.message, /ConfigMap/);
    const postInstall = warningOf(r.warnings, "hooks.post_install");
    assert.match(
      postInstall.message,
      /Step 1 runs \["keyring","init"\] in worker \(by hand: kubectl exec deployment\/globex--keyring -c worker -- …\)/,
    );
    for (const warning of [preStart, postInstall]) assertCarried(r, warning);
    assert.ok(!render(app({}), bare).warnings.some((w) => w.field.startsWith("hooks")));
  });
});

describe("depends_on", () => {
  test("containers are listed in start order, and the lost waiting is a warning naming each condition", () => {
    const r = render(samples.notes as Manifest);
    assert.deepEqual(
      r.containers.map((c) => c.name),
      ["cache", "db", "web"],
      "every container after the ones it depends on",
    );
    const warning = warningOf(r.warnings, "containers.web.depends_on");
    assert.match(warning.message, /once cache has started and db is healthy/);
    assert.match(warning.message, /web must wait itself/);
    assertCarried(r, warning);
    assert.equal(
      r.deployment.spec.template.spec.initContainers,
      undefined,
      "no init containers: kube play waits for them",
    );
  });
});

describe("jobs", () => {
  test("a job is an init container: its dependant waits for it exactly (no warning), its rerun at every pod start is a warning", () => {
    const manifest = ManifestSchema.parse({
      manifest: 1,
      id: "globex.keyring",
      version: "1.0.0",
      name: "Keyring",
      description: "A test app.",
      containers: {
        migrate: {
          image: "registry.example.org/globex/keyring:1",
          job: true,
          command: ["keyring", "migrate"],
        },
        worker: { image: "registry.example.org/globex/keyring:1", depends_on: { migrate: "completed" } },
      },
    });
    const r = render(manifest, bare);
    const init = r.deployment.spec.template.spec.initContainers as Doc[];
    assert.deepEqual(
      init.map((c) => [c.name, c.args ?? c.command]),
      [["migrate", ["keyring", "migrate"]]],
    );
    assert.deepEqual(
      r.containers.map((c) => c.name),
      ["worker"],
    );
    assert.ok(
      !r.warnings.some((w) => w.field === "containers.worker.depends_on"),
      JSON.stringify(r.warnings),
    );
    const warning = warningOf(r.warnings, "containers.migrate.job");
    assert.match(warning.message, /runs it again at every start of the pod/);
    assertCarried(r, warning);
  });
});

describe("ports", () => {
  test("the Service offers published ports and the exported containers' ports, not private ones", () => {
    const servicePorts = (m: Manifest) =>
      render(m)
        .docs.find((d) => d.kind === "Service")
        ?.spec.ports.map((p: Doc) => `${p.port}/${p.protocol}`);
    assert.deepEqual(
      servicePorts(samples.notes as Manifest),
      ["80/TCP"],
      "db 5432 and cache 6379 stay private",
    );
    assert.deepEqual(
      servicePorts(samples["mini-node"] as Manifest),
      ["8332/TCP", "8333/UDP"],
      "8332 has no host port, but dependents reach it through the `host` export",
    );
  });

  test("an app with only private ports has no Service", () => {
    const r = render(app({ ports: [{ container: 9000 }] }), bare);
    assert.ok(!r.docs.some((d) => d.kind === "Service"));
    assert.match(warningOf(r.warnings, "containers.worker.ports").message, /^9000\/tcp has no host port/);
  });

  test("each private port is a warning: Kubernetes does not isolate pods", () => {
    const r = render(samples.notes as Manifest);
    for (const [key, port] of [
      ["db", "5432/tcp"],
      ["cache", "6379/tcp"],
    ] as const) {
      const warning = warningOf(r.warnings, `containers.${key}.ports`);
      assert.ok(warning.message.startsWith(`${port} has no host port, so the Service leaves it out`));
      assert.match(warning.message, /NetworkPolicy/);
      assertCarried(r, warning);
    }
    assert.ok(!r.warnings.some((w) => w.field === "containers.web.ports"), "web's only port is published");
    const node = warningOf(render(samples["mini-node"] as Manifest).warnings, "containers.node.ports");
    assert.match(node.message, /^8332\/tcp has no host port, but node is exported to dependents/);
  });
});

describe("secrets", () => {
  const keyring = () =>
    app(
      {
        environment: { API_TOKEN: { secret: "api-token" } },
        secrets: [{ secret: "signing-key", target: "/run/secrets/signing-key" }],
      },
      {
        secrets: {
          "api-token": { type: "hex", length: 64 },
          "signing-key": { type: "base64url", length: 43 },
          "db-password": {},
        },
      },
    );

  test("no Secret is rendered, and never a value; the header names the Secret and all its keys", () => {
    const r = render(keyring(), bare);
    assert.ok(!r.docs.some((d) => d.kind === "Secret"));
    assert.ok(
      r.content.includes("# - globex--keyring-secrets, with keys api-token, db-password, signing-key.\n"),
    );
    const warning = warningOf(r.warnings, "secrets");
    assert.match(
      warning.message,
      /^the Secret globex--keyring-secrets \(keys api-token, db-password, signing-key\)/,
    );
    assert.match(warning.message, /at the top of globex--keyring\.yaml/);
    assertCarried(r, warning);
  });

  test("the header's commands generate values of each secret's declared alphabet and length", () => {
    const { content } = render(keyring(), bare);
    const generated = Object.fromEntries(
      [...content.matchAll(/--from-literal=([a-z0-9-]+)="\$\((.*)\)"/g)].map(([, key, command]) => [
        key,
        execFileSync("/bin/sh", ["-c", command as string], { encoding: "utf8" }),
      ]),
    );
    assert.deepEqual(Object.keys(generated).sort(), ["api-token", "db-password", "signing-key"]);
    assert.match(generated["api-token"] as string, /^[0-9a-f]{64}$/);
    assert.match(generated["db-password"] as string, /^[A-Za-z0-9]{32}$/);
    assert.match(generated["signing-key"] as string, /^[A-Za-z0-9_-]{43}$/);
    assert.match(content, /^# {5}kubectl create secret generic globex--keyring-secrets \\$/m);
  });

  test("the header also says how to keep the values an installed app has, from the node's files", () => {
    const { content } = render(keyring(), bare);
    for (const key of ["api-token", "db-password", "signing-key"])
      assert.ok(content.includes(`--from-file=${key}=/srv/archy/state/secrets/globex.keyring/${key}`), key);
  });

  test("a dependency's Secret is named, with the keys read and the fields that read them", () => {
    const r = render(samples["mini-explorer"] as Manifest);
    const warning = warningOf(r.warnings, "containers.explorer.environment.RPC_PASSWORD");
    assert.match(
      warning.message,
      /the Secret mini-node-secrets \(key rpc-password\) of dependency mini-node/,
    );
    assert.ok(
      r.content.includes("# - mini-node-secrets, with key rpc-password: the Secret of dependency mini-node"),
    );
    assert.ok(
      !r.content.includes("kubectl create secret generic mini-node-secrets"),
      "created with mini-node",
    );
    assertCarried(r, warning);
  });

  test("with values given explicitly, the Secret is rendered and nothing asks to create it", () => {
    const m = samples["mini-node"] as Manifest;
    const { files, warnings } = renderKubeWithWarnings(m, contextFor(m, samples), {
      secretValues: { "rpc-password": "given-value" },
    });
    assert.ok(!warnings.some((w) => w.field === "secrets"));
    assert.ok(!files[0]?.content.includes("kubectl create secret"));
  });
});

describe("warnings", () => {
  test("an app Kubernetes runs as Podman does has none, and no annotation", () => {
    const r = render(app({ ports: [{ container: 8080, host: 18080 }] }), bare);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.deployment.metadata.annotations[KUBE_WARNINGS_ANNOTATION], undefined);
    assert.equal(
      r.content.split("\n").filter((l) => l.startsWith("#")).length,
      1,
      "only the first header line",
    );
  });

  test("renderKube gives the same files, and header lines stay within 100 characters but for commands", () => {
    for (const m of Object.values(samples)) {
      const ctx = contextFor(m, samples);
      assert.deepEqual(renderKube(m, ctx), renderKubeWithWarnings(m, ctx).files);
      for (const line of renderKube(m, ctx)[0]?.content.split("\n") ?? [])
        if (line.startsWith("#") && !line.includes("--from-")) assert.ok(line.length <= 100, line);
    }
  });

  test("a data root with a line break cannot end a comment line", () => {
    const { content } = render(app({ environment: { T: { secret: "t" } } }, { secrets: { t: {} } }), {
      dataRoot: "/srv/x\napiVersion: v1",
      dependencies: {},
    });
    assert.ok(
      !content.split("\n").some((l) => l.startsWith("apiVersion: v1") && l.length > "apiVersion: v1".length),
    );
    assert.doesNotMatch(content, /\napiVersion: v1\/state/);
  });
});
