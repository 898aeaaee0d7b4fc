/**
 * Every sample's Kubernetes YAML, run on a single node with `podman kube play` as the rootless test
 * user (a copy of the samples with unique names and free ports): the Secrets it references are
 * created first with random values, its containers come up, published ports answer over HTTP, the
 * stack's names resolve inside the pod, secrets arrive, every probe's command passes inside its
 * running container (as the kubelet would run it), the preStop hook that stands in for a
 * `stop_signal` stops a worker that ignores SIGTERM, and `podman kube play --down` plus removal of
 * the volumes and secrets leaves nothing behind.
 *
 * Podman 4.3 (Debian 12) specifics handled here, not in the renderer:
 * - A Secret that `secretKeyRef` reads must hold a JSON map of base64 values; one a `secret` volume
 *   reads must hold a Kubernetes Secret document whose `data` is not base64 (4.3 neither decodes it
 *   nor knows `stringData`), and it writes every key, ignoring `items`. (Later versions read
 *   Secret documents for both; that branch is not exercised on this machine.)
 * - On a rootless cgroup v1 host, `kube play` applies memory limits that runc cannot set and the
 *   pod fails, where `podman run` only warns; the limits are removed from the copy played there.
 * - `--down` keeps volumes, including the ones 4.3 makes for emptyDir and secret volumes.
 * - 4.3 turns an exec probe into a healthcheck by joining its words with spaces (a `sh -c` script
 *   falls apart) and ignores lifecycle hooks, so probes and hooks are run here with `podman exec`,
 *   as the kubelet runs them, instead of through Podman's healthcheck or stop.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import { LABELS, volumeHostPath } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import { kubeName, renderKube } from "../../src/render/kube.ts";
import { podman, runAsTestUser, testUser } from "../support/rootless.ts";
import { contextFor, isolate, loadSamples, runPrefix, SAMPLE_IDS } from "../support/samples.ts";
import { waitFor } from "../support/wait.ts";

const prefix = runPrefix();
const isRoot = process.getuid?.() === 0;

// biome-ignore lint/suspicious/noExplicitAny: parsed Kubernetes YAML, navigated by field names
type Doc = Record<string, any>;

let root: string;
let dataRoot: string;
let apps: Record<string, Manifest>;
let ids: Record<string, string>;
let ports: Map<string, number>;
let podmanVersion: [number, number];
let cgroupV1Rootless = false;
const secretValues = new Map<string, Record<string, string>>();
const cleanup = { secrets: new Set<string>(), volumes: new Set<string>(), files: new Set<string>() };

function userDir(path: string): void {
  mkdirSync(path, { recursive: true });
  if (!isRoot) return;
  for (let dir = path; dir.startsWith(root) && dir !== dirname(root); dir = dirname(dir))
    chownSync(dir, testUser.uid, testUser.gid);
}

async function userFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  if (isRoot) chownSync(path, testUser.uid, testUser.gid);
}

/** The Secrets a pod spec reads, and how: by `secretKeyRef` (env) or as a `secret` volume. */
function secretUses(deployment: Doc): Map<string, { keys: Set<string>; env: boolean; volume: boolean }> {
  const uses = new Map<string, { keys: Set<string>; env: boolean; volume: boolean }>();
  const use = (name: string) => {
    const found = uses.get(name) ?? { keys: new Set<string>(), env: false, volume: false };
    uses.set(name, found);
    return found;
  };
  const spec = deployment.spec.template.spec;
  for (const c of spec.containers)
    for (const e of c.env ?? [])
      if (e.valueFrom?.secretKeyRef) {
        const u = use(e.valueFrom.secretKeyRef.name);
        u.env = true;
        u.keys.add(e.valueFrom.secretKeyRef.key);
      }
  for (const v of spec.volumes ?? [])
    if (v.secret) {
      const u = use(v.secret.secretName);
      u.volume = true;
      for (const item of v.secret.items ?? []) u.keys.add(item.key);
    }
  return uses;
}

/** Creates a Podman secret in the form this Podman's `kube play` reads, with random values. */
async function createSecret(
  name: string,
  use: { keys: Set<string>; env: boolean; volume: boolean },
): Promise<void> {
  const values = secretValues.get(name) ?? {};
  for (const key of use.keys) values[key] ??= randomBytes(16).toString("hex");
  secretValues.set(name, values);
  if (cleanup.secrets.has(name)) return;
  const legacy = podmanVersion[0] < 4 || (podmanVersion[0] === 4 && podmanVersion[1] < 4);
  if (legacy && use.env && use.volume)
    throw new Error(
      `Podman ${podmanVersion.join(".")} cannot read Secret ${name} both as env and as a volume`,
    );
  const base64 = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
  );
  const content = !legacy
    ? YAML.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: values })
    : use.env
      ? JSON.stringify(base64)
      : // 4.3 reads Secret documents with a YAML decoder that knows `data` but not `stringData`, and
        // writes `data` values to the files without base64-decoding them.
        YAML.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, data: values });
  const file = join(root, `${name}.secret`);
  await userFile(file, content);
  await podman(["secret", "create", name, file]);
  cleanup.secrets.add(name);
  await rm(file, { force: true });
}

async function waitRunning(names: string[]): Promise<void> {
  let states: Record<string, string> = {};
  await waitFor(
    async () => {
      const list = JSON.parse(await podman(["ps", "-a", "--format", "json"])) as Array<{
        Names: string[];
        State: string;
      }>;
      states = Object.fromEntries(
        names.map((n) => [n, list.find((c) => c.Names.includes(n))?.State ?? "missing"]),
      );
      return Object.values(states).every((s) => s === "running");
    },
    { what: `${names.join(", ")} to run`, intervalMs: 500, seen: () => states },
  );
}

/** The container's logs once they contain `text`. */
async function waitLog(container: string, text: string): Promise<string> {
  let logs = "";
  return waitFor(
    async () => {
      const r = await runAsTestUser(["podman", "logs", container]);
      logs = r.stdout + r.stderr;
      return logs.includes(text) && logs;
    },
    { what: `"${text}" in the logs of ${container}`, intervalMs: 300, seen: () => logs },
  );
}

/** The first answer with status 200 and `expect` in its body; the last answer if none came in time. */
async function httpGet(port: number, path = "/", expect = ""): Promise<{ status: number; body: string }> {
  let last = { status: 0, body: "" };
  return waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
      last = { status: response.status, body: await response.text() };
      return last.status === 200 && last.body.includes(expect) && last;
    },
    {
      what: `http://127.0.0.1:${port}${path} to answer 200${expect ? ` with "${expect}"` : ""}`,
      intervalMs: 500,
    },
  ).catch(() => last);
}

before(async () => {
  const version = (await podman(["version", "--format", "{{.Client.Version}}"])).trim();
  podmanVersion = version.split(".").map(Number).slice(0, 2) as [number, number];
  const info = (
    await podman(["info", "--format", "{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}"])
  ).trim();
  cgroupV1Rootless = info === "v1 true";
  root = await mkdtemp(join(tmpdir(), `archy-kube-${prefix}-`));
  userDir(root);
  dataRoot = join(root, "data");
  ({ apps, ids, ports } = await isolate(await loadSamples(), {
    prefix,
    hostRoot: join(root, "host"),
    device: "/dev/zero",
  }));
  for (const m of Object.values(apps))
    for (const c of Object.values(m.containers))
      for (const v of c.volumes)
        userDir(v.name ? volumeHostPath(dataRoot, m.id, v.name) : (v.host_path as string));
});

after(async () => {
  for (const file of cleanup.files) await runAsTestUser(["podman", "kube", "play", "--down", file]);
  for (const name of cleanup.volumes) await runAsTestUser(["podman", "volume", "rm", "--force", name]);
  for (const name of cleanup.secrets) await runAsTestUser(["podman", "secret", "rm", name]);
  if (root) {
    await runAsTestUser(["podman", "unshare", "rm", "-rf", root]);
    await rm(root, { recursive: true, force: true });
  }
});

/** Runs the container's probe commands as the kubelet would, until they pass (the app may be starting). */
async function probesPass(container: string, c: Doc): Promise<void> {
  for (const probe of [c.livenessProbe, c.readinessProbe]) {
    if (!probe) continue;
    assert.ok(probe.exec, `${c.name}: probes are exec probes`);
    const command = probe.exec.command;
    let last = { code: -1, stderr: "" };
    await waitFor(
      async () => {
        last = await runAsTestUser(["podman", "exec", container, ...command]);
        return last.code === 0;
      },
      { what: `${c.name}: probe ${JSON.stringify(command)} to pass`, intervalMs: 1000, seen: () => last },
    );
  }
}

/**
 * Plays one app's YAML (of the sample's manifest, changed by `edit` if given), runs `check` while it
 * is up, then takes it down and removes what it made.
 */
async function playApp(
  sample: string,
  check: (docs: Doc[], names: Record<string, string>) => Promise<void>,
  edit?: (m: Manifest) => void,
): Promise<void> {
  const m = structuredClone(apps[ids[sample] as string] as Manifest);
  edit?.(m);
  const [file] = renderKube(m, contextFor(m, apps, dataRoot));
  assert.ok(file);
  const docs = YAML.parseAllDocuments(file.content).map((d) => d.toJS() as Doc);
  const deployment = docs.find((d) => d.kind === "Deployment") as Doc;
  const spec = deployment.spec.template.spec;

  for (const c of spec.containers) {
    const manifestMemory = m.containers[c.name]?.memory;
    assert.equal(
      c.resources?.limits?.memory !== undefined,
      manifestMemory !== undefined,
      `${c.name}: memory limit rendered`,
    );
    if (cgroupV1Rootless) delete c.resources;
  }
  for (const [name, use] of secretUses(deployment)) await createSecret(name, use);

  const path = join(root, file.path);
  await userFile(path, docs.map((d) => YAML.stringify(d)).join("---\n"));
  for (const d of docs) if (d.kind === "PersistentVolumeClaim") cleanup.volumes.add(d.metadata.name);
  for (const v of spec.volumes ?? []) {
    if (v.emptyDir) cleanup.volumes.add(v.name);
    if (v.secret) cleanup.volumes.add(v.secret.secretName);
  }
  cleanup.files.add(path);
  const played = await runAsTestUser(["podman", "kube", "play", path]);
  assert.equal(played.code, 0, `kube play ${sample}: ${played.stderr}${played.stdout}`);

  const pod = `${kubeName(m.id)}-pod-0`;
  const names = Object.fromEntries(spec.containers.map((c: Doc) => [c.name, `${pod}-${c.name}`]));
  await waitRunning(Object.values(names));
  const bindings = JSON.parse(await podman(["pod", "inspect", pod])).InfraConfig.PortBindings ?? {};
  const published = Object.values(m.containers)
    .flatMap((c) => c.ports.filter((p) => p.host !== undefined).map((p) => `${p.container}/${p.protocol}`))
    .sort();
  assert.deepEqual(Object.keys(bindings).sort(), published, "only the published ports are bound on the host");
  for (const c of spec.containers) {
    const info = JSON.parse(await podman(["inspect", names[c.name] as string]))[0];
    assert.equal(info.Config.Labels[LABELS.app], m.id, "pod labels reach the containers");
    assert.equal(info.Config.Labels[LABELS.owner], "archipelago");
    const caps = (c.securityContext.capabilities.add ?? []).map((cap: string) => `CAP_${cap}`).sort();
    assert.deepEqual([...(info.EffectiveCaps ?? [])].sort(), caps, `${c.name}: capabilities`);
    assert.ok(info.HostConfig.SecurityOpt.includes("no-new-privileges"), `${c.name}: no-new-privileges`);
    assert.equal(info.HostConfig.ReadonlyRootfs, c.securityContext.readOnlyRootFilesystem);
  }
  try {
    for (const c of spec.containers) await probesPass(names[c.name] as string, c);
    await check(docs, names);
  } catch (error) {
    const logs = await Promise.all(
      Object.values(names).map(async (n) => {
        const r = await runAsTestUser(["podman", "logs", "--tail", "20", n]);
        return `--- ${n}\n${r.stdout}${r.stderr}`;
      }),
    );
    throw new Error(`${(error as Error).message}\ncontainer logs:\n${logs.join("\n")}`, { cause: error });
  }

  const down = await runAsTestUser(["podman", "kube", "play", "--down", path]);
  assert.equal(down.code, 0, down.stderr);
  cleanup.files.delete(path);
  const left = JSON.parse(
    await podman(["ps", "-a", "--format", "json", "--filter", `pod=${pod}`]),
  ) as unknown[];
  assert.deepEqual(left, [], "kube play --down removed the pod's containers");
}

describe("real Podman: kube play of the rendered YAML", () => {
  test("hello-web: serves its page from the volume bound to the app's data directory", async () => {
    await playApp("hello-web", async () => {
      const page = await httpGet(ports.get("hello-web/web/8080/tcp") as number);
      assert.equal(page.status, 200);
      const onDisk = await readFile(
        join(volumeHostPath(dataRoot, ids["hello-web"] as string, "content"), "www/index.html"),
        "utf8",
      );
      assert.equal(page.body, onDisk);
    });
  });

  test("notes: the stack's names resolve inside the pod", async () => {
    await playApp("notes", async () => {
      const page = await httpGet(ports.get("notes/web/80/tcp") as number, "/", "database says: ok");
      assert.equal(page.status, 200);
      assert.match(page.body, /database says: ok/);
    });
  });

  test("mini-node: runs with its secret, host path and device", async () => {
    await playApp("mini-node", async (_docs, names) => {
      const node = names.node as string;
      const password = secretValues.get(`${kubeName(ids["mini-node"] as string)}-secrets`)?.["rpc-password"];
      assert.ok(password);
      assert.equal((await podman(["exec", node, "sh", "-c", 'echo "$RPC_PASSWORD"'])).trim(), password);
      assert.match(await podman(["exec", node, "ls", "-l", "/dev/hwrng"]), /^c/);
      assert.notEqual(
        (await runAsTestUser(["podman", "exec", node, "touch", "/bootstrap/x"])).code,
        0,
        "read-only host path",
      );
    });
  });

  test("mini-explorer: gets the node's password by secretKeyRef and its own secret as a file", async () => {
    await playApp("mini-explorer", async (_docs, names) => {
      const explorer = names.explorer as string;
      const page = await httpGet(ports.get("mini-explorer/explorer/8080/tcp") as number);
      assert.equal(page.status, 200);
      assert.match(page.body, /Mini Explorer/);
      const node = secretValues.get(`${kubeName(ids["mini-node"] as string)}-secrets`)?.["rpc-password"];
      assert.equal((await podman(["exec", explorer, "sh", "-c", 'echo "$RPC_PASSWORD"'])).trim(), node);
      const key = secretValues.get(`${kubeName(ids["mini-explorer"] as string)}-secrets`)?.["session-key"];
      assert.equal(await podman(["exec", explorer, "cat", "/run/secrets/session-key"]), key);
    });
  });

  test("a worker that stops on SIGINT and ignores SIGTERM is stopped by the preStop hook", async () => {
    await playApp(
      "hello-web",
      async (docs, names) => {
        const web = names.web as string;
        const c = (docs.find((d) => d.kind === "Deployment") as Doc).spec.template.spec.containers[0];
        const hook = c.lifecycle.preStop.exec.command as string[];
        await waitLog(web, "worker started");
        // The kubelet runs the hook and waits for it; the hook dies with the container's PID 1.
        const ran = await runAsTestUser(["podman", "exec", web, ...hook], { timeoutMs: 20_000 });
        const logs = await waitLog(web, "stopped by SIGINT");
        assert.doesNotMatch(logs, /SIGTERM/, `only SIGINT was sent (hook exit ${ran.code})`);
      },
      (m) => {
        // An app of its own (the hello-web test's volumes are kept by --down), with no volume.
        m.id = `${m.id}-stop`;
        const web = m.containers.web as Manifest["containers"][string];
        web.volumes = [];
        web.working_dir = undefined;
        web.entrypoint = ["/bin/sh", "-c"];
        web.command = [
          "trap 'echo stopped by SIGINT; exit 0' INT; trap 'echo SIGTERM ignored' TERM; " +
            "echo worker started; while :; do sleep 1; done",
        ];
        web.stop_signal = "SIGINT";
        web.stop_timeout = 2000;
        delete web.health;
      },
    );
  });

  test("every sample was played", () => {
    assert.deepEqual([...SAMPLE_IDS].sort(), ["hello-web", "mini-explorer", "mini-node", "notes"]);
  });
});
