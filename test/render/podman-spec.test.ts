/**
 * The plain backend's create bodies, sent to a real libpod API: every sample app (a copy with
 * unique names and free ports) is created and started over a private `podman system service`
 * socket as the rootless test user, in dependency and start order, then checked: running, labelled
 * (spec hash included), only the manifest's capabilities, no-new-privileges, read-only root where
 * asked, on the right networks with the right aliases, healthy, reachable on its published port,
 * its data in the app's data directory, and its secrets delivered without their values appearing in
 * the create bodies or in the container's configuration.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CURRENT_NAMING, LABELS, secretName, volumeHostPath } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import { fixedAddress, freeSubnet } from "../../src/render/addresses.ts";
import { type PodmanPlan, podmanPlan } from "../../src/render/podman-spec.ts";
import { type ContainerInspect, PodmanService } from "../support/podman-api.ts";
import { podman, runAsTestUser, testUser } from "../support/rootless.ts";
import { contextFor, dependencyOrder, isolate, loadSamples, runPrefix } from "../support/samples.ts";
import { waitFor } from "../support/wait.ts";

const prefix = runPrefix();
const isRoot = process.getuid?.() === 0;

let root: string;
let dataRoot: string;
let service: PodmanService;
let apps: Record<string, Manifest>;
let ids: Record<string, string>;
let ports: Map<string, number>;
const plans = new Map<string, PodmanPlan>();
/** Each app network's subnet, by app id. */
const subnets: Record<string, string> = {};
const secretValues = new Map<string, string>();
const created = {
  containers: [] as string[],
  volumes: [] as string[],
  networks: [] as string[],
  secrets: [] as string[],
};

/** A directory under `root` the test user owns, with every parent (the daemon creates these on a node). */
function userDir(path: string): void {
  mkdirSync(path, { recursive: true });
  if (!isRoot) return;
  for (let dir = path; dir.startsWith(root) && dir !== dirname(root); dir = dirname(dir))
    chownSync(dir, testUser.uid, testUser.gid);
}

async function waitHealthy(name: string): Promise<void> {
  let last = "";
  await waitFor(
    async () => {
      const run = await service.request("GET", `/containers/${name}/healthcheck`);
      last = run.text.trim().slice(-500);
      return run.status === 200 && (run.body as { Status?: string } | undefined)?.Status === "healthy";
    },
    {
      what: `${name} to be healthy`,
      intervalMs: 500,
      seen: async () => {
        const logs = await runAsTestUser(["podman", "logs", "--tail", "20", name]);
        return `${last}\nlogs:\n${logs.stdout}${logs.stderr}`;
      },
    },
  );
}

async function inspect(name: string): Promise<ContainerInspect> {
  return (await service.ok("GET", `/containers/${name}/json`)) as ContainerInspect;
}

async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

function plan(sample: string): PodmanPlan {
  const found = plans.get(sample);
  assert.ok(found, `${sample} was created`);
  return found;
}

function body(sample: string, key: string) {
  const c = plan(sample).containers.find((x) => x.key === key);
  assert.ok(c, `${sample}/${key}`);
  return c;
}

before(async () => {
  const samples = await loadSamples();
  root = await mkdtemp(join(tmpdir(), `archy-spec-${prefix}-`));
  userDir(root);
  dataRoot = join(root, "data");
  ({ apps, ids, ports } = await isolate(samples, {
    prefix,
    hostRoot: join(root, "host"),
    device: "/dev/zero",
  }));
  for (const m of Object.values(apps)) {
    for (const c of Object.values(m.containers)) {
      for (const v of c.volumes) if (v.name) userDir(volumeHostPath(dataRoot, m.id, v.name));
      for (const v of c.volumes) if (v.host_path) userDir(v.host_path);
    }
  }
  service = new PodmanService(join(tmpdir(), `archy-${prefix}.sock`));
  await service.start();

  for (const m of Object.values(apps))
    for (const secret of Object.keys(m.secrets)) {
      const name = secretName(m.id, secret, CURRENT_NAMING);
      const value = randomBytes(18).toString("hex");
      await service.ok("POST", `/secrets/create?name=${name}`, value);
      created.secrets.push(name);
      secretValues.set(name, value);
    }

  for (const id of dependencyOrder(apps)) {
    const m = apps[id] as Manifest;
    const sample = Object.keys(ids).find((k) => ids[k] === id) as string;
    // The dependency's state (`healthy`) is reached before this app starts.
    for (const dep of m.dependencies)
      if (dep.state === "healthy")
        for (const c of plan(Object.keys(ids).find((k) => ids[k] === dep.id) as string).containers)
          await waitHealthy(c.name);
    // A subnet chosen as the runtime chooses one, so that the fixed addresses are rendered too;
    // and, as the runtime does, chosen again when another test's network took it first.
    let p: ReturnType<typeof podmanPlan> | undefined;
    const taken: string[] = [];
    for (let attempt = 0; !p; attempt++) {
      const networks = (await service.ok("GET", "/networks/json")) as Array<{
        subnets?: Array<{ subnet: string }>;
      }>;
      taken.push(...networks.flatMap((n) => (n.subnets ?? []).map((x) => x.subnet)));
      subnets[id] = freeSubnet(taken) as string;
      const planned = podmanPlan(m, { ...contextFor(m, apps, dataRoot), subnets });
      try {
        await service.ok("POST", "/networks/create", planned.network);
        p = planned;
      } catch (error) {
        if (attempt === 4 || !/already used/.test((error as Error).message)) throw error;
        taken.push(subnets[id] as string);
      }
    }
    plans.set(sample, p);
    created.networks.push(p.network.name);
    for (const v of p.volumes) {
      await service.ok("POST", "/volumes/create", v);
      created.volumes.push(v.Name);
    }
    for (const c of p.containers) {
      for (const [dep, condition] of Object.entries(m.containers[c.key]?.depends_on ?? {}))
        if (condition === "healthy")
          await waitHealthy(p.containers.find((x) => x.key === dep)?.name as string);
      await service.ok("POST", "/containers/create", c.body);
      created.containers.push(c.name);
      await service.ok("POST", `/containers/${c.name}/start`);
    }
  }
});

after(async () => {
  if (!service) return;
  for (const name of [...created.containers].reverse())
    await service.request("DELETE", `/containers/${name}?force=true&v=true&t=0`).catch(() => undefined);
  for (const name of created.volumes)
    await service.request("DELETE", `/volumes/${name}?force=true`).catch(() => undefined);
  for (const name of created.networks)
    await service.request("DELETE", `/networks/${name}`).catch(() => undefined);
  for (const name of created.secrets)
    await service.request("DELETE", `/secrets/${name}`).catch(() => undefined);
  await service.stop();
  // Files written by containers belong to the test user's subordinate ids.
  if (root) {
    await runAsTestUser(["podman", "unshare", "rm", "-rf", root]);
    await rm(root, { recursive: true, force: true });
  }
});

describe("real Podman: libpod create bodies", () => {
  test("no secret value appears in any create body", () => {
    for (const p of plans.values()) {
      const text = JSON.stringify(p);
      for (const value of secretValues.values()) assert.ok(!text.includes(value));
    }
  });

  test("every container runs with its labels, spec hash and security settings", async () => {
    for (const [sample, p] of plans)
      for (const c of p.containers) {
        const info = await inspect(c.name);
        assert.equal(info.State.Running, true, `${c.name} is running`);
        for (const [key, value] of Object.entries(c.body.labels))
          assert.equal(info.Config.Labels[key], value, `${c.name}: label ${key}`);
        assert.equal(info.Config.Labels[LABELS.specHash], c.hash);
        assert.equal(info.Config.Labels[LABELS.app], ids[sample]);
        const expectedCaps = (c.body.cap_add ?? []).map((cap) => `CAP_${cap}`).sort();
        assert.deepEqual(
          [...(info.EffectiveCaps ?? [])].sort(),
          expectedCaps,
          `${c.name}: only the manifest's capabilities`,
        );
        assert.deepEqual([...(info.BoundingCaps ?? [])].sort(), expectedCaps, `${c.name}: bounding set too`);
        assert.ok(info.HostConfig.CapDrop.length > 0, `${c.name}: the default capabilities are dropped`);
        assert.ok(info.HostConfig.SecurityOpt.includes("no-new-privileges"), `${c.name}: no-new-privileges`);
        assert.equal(info.HostConfig.ReadonlyRootfs, c.body.read_only_filesystem);
        assert.equal(info.Config.StopTimeout, c.body.stop_timeout);
        if (c.body.stop_signal !== undefined) assert.equal(info.Config.StopSignal, c.body.stop_signal);
        if (c.body.user) assert.equal(info.Config.User, c.body.user);
        assert.deepEqual(
          Object.keys(info.NetworkSettings.Networks).sort(),
          Object.keys(c.body.Networks).sort(),
        );
        for (const [network, options] of Object.entries(c.body.Networks))
          for (const alias of options.aliases ?? [])
            assert.ok(
              info.NetworkSettings.Networks[network]?.Aliases.includes(alias),
              `${c.name}: alias ${alias} on ${network}`,
            );
        for (const m of c.body.mounts ?? [])
          assert.ok(m.type !== "tmpfs" || info.HostConfig.Tmpfs[m.destination] !== undefined);
        for (const v of c.body.volumes ?? [])
          assert.ok(
            info.Mounts.some(
              (x: { Name?: string; Destination: string }) => x.Name === v.Name && x.Destination === v.Dest,
            ),
          );
      }
  });

  test("every health check passes", async () => {
    for (const p of plans.values())
      for (const c of p.containers) if (c.body.healthconfig) await waitHealthy(c.name);
  });

  test("secrets reach the process, as env and as a file owned by the container's user", async () => {
    const nodePassword = secretValues.get(
      secretName(ids["mini-node"] as string, "rpc-password", CURRENT_NAMING),
    ) as string;
    const sessionKey = secretValues.get(
      secretName(ids["mini-explorer"] as string, "session-key", CURRENT_NAMING),
    ) as string;
    const node = body("mini-node", "node");
    const explorer = body("mini-explorer", "explorer");
    const printenv = (name: string) => podman(["exec", name, "sh", "-c", 'echo "$RPC_PASSWORD"']);
    assert.equal((await printenv(node.name)).trim(), nodePassword);
    assert.equal((await printenv(explorer.name)).trim(), nodePassword);
    assert.equal(await podman(["exec", explorer.name, "cat", "/run/secrets/session-key"]), sessionKey);
    const listing = await podman(["exec", explorer.name, "ls", "-ln", "/run/secrets/session-key"]);
    assert.match(listing, /^-r-------- +1 +1000 +1000 /, "mode 0400, owned by the container's user");
  });

  test("secret values are not in the containers' configuration", async () => {
    const version = (await podman(["version", "--format", "{{.Client.Version}}"])).trim();
    const [major = 0, minor = 0] = version.split(".").map(Number);
    const masks = major > 5 || (major === 5 && minor >= 3);
    for (const p of plans.values())
      for (const c of p.containers) {
        const env: string[] = (await inspect(c.name)).Config.Env;
        const leaked = env.filter((e) => [...secretValues.values()].some((v) => e.includes(v)));
        const envSecrets = Object.keys(c.body.secret_env ?? {});
        if (masks) assert.deepEqual(leaked, [], `${c.name}: secret values in Config.Env`);
        // Podman before 5.3 shows `type=env` secrets' values in inspect (containers/podman#23788,
        // fixed in 5.3 by masking). Only those may appear; file secrets and anything else never.
        else
          for (const entry of leaked) {
            const variable = entry.slice(0, entry.indexOf("="));
            assert.ok(envSecrets.includes(variable), `${c.name}: ${variable} leaks a secret into Config.Env`);
            assert.equal(entry, `${variable}=${secretValues.get(c.body.secret_env?.[variable] as string)}`);
          }
        assert.ok(
          !c.body.env || envSecrets.every((v) => !(v in c.body.env)),
          "secret env is never plain env",
        );
      }
  });

  test("the stack finds its members by alias", async () => {
    // aardvark-dns learns a new container's names when Podman signals it after the start: on a busy
    // host the first lookups can come before that, so the answer is awaited (bounded), not sampled.
    let notes = { status: 0, body: "" };
    for (let i = 0; i < 30 && !/database says: ok/.test(notes.body); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      notes = await httpGet(ports.get("notes/web/80/tcp") as number, "/");
    }
    assert.equal(notes.status, 200);
    assert.match(notes.body, /database says: ok/, "web reached db by its alias `database`");
    const web = body("notes", "web");
    assert.equal(
      (await podman(["exec", web.name, "sh", "-c", "nc redis 6379 </dev/null >/dev/null && echo ok"])).trim(),
      "ok",
    );
  });

  test("the explorer reaches mini-node over mini-node's network with the exported credentials", async () => {
    const explorer = body("mini-explorer", "explorer");
    const node = body("mini-node", "node");
    const nodeNetwork = Object.keys(node.body.Networks)[0] as string;
    assert.ok(explorer.body.Networks[nodeNetwork], "the explorer joins the node's network");
    assert.equal(explorer.body.env.RPC_HOST, node.name, "the host export is the node's container name");
    const nodeIp = (await inspect(node.name)).NetworkSettings.Networks[nodeNetwork]?.IPAddress;
    assert.ok(nodeIp);
    const viaIp = await podman([
      "exec",
      explorer.name,
      "sh",
      "-c",
      `wget -q -O - "http://$RPC_USER:$RPC_PASSWORD@${nodeIp}:$RPC_PORT/"`,
    ]);
    assert.match(viaIp, /"chain":"regtest"/, "reachable over the node's network with the RPC password");
    const withoutPassword = await runAsTestUser([
      "podman",
      "exec",
      explorer.name,
      "wget",
      "-q",
      "-O",
      "-",
      `http://${nodeIp}:8332/`,
    ]);
    assert.notEqual(withoutPassword.code, 0, "the node refuses a request without the password");

    // By name: with several networks, Podman lists one DNS server per network in resolv.conf, in
    // no fixed order, and each answers only for its own network (containers/aardvark-dns#403). So
    // the node has a fixed address on its network, and the explorer a hosts entry for it.
    const fixed = fixedAddress(
      apps[ids["mini-node"] as string] as Manifest,
      "node",
      subnets[ids["mini-node"] as string],
    );
    assert.ok(fixed, "the exported container has a fixed address");
    assert.deepEqual(node.body.Networks[nodeNetwork]?.static_ips, [fixed]);
    assert.equal(nodeIp, fixed, "Podman gave the node its fixed address");
    assert.deepEqual(explorer.body.hostadd, [`${node.name}:${fixed}`]);
    const hosts = await podman(["exec", explorer.name, "cat", "/etc/hosts"]);
    assert.match(hosts, new RegExp(`^${fixed.replaceAll(".", "\\.")}\\s+${node.name}$`, "m"), hosts);
    let explorerPage = { status: 0, body: "" };
    for (let i = 0; i < 30 && explorerPage.status !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      explorerPage = await httpGet(ports.get("mini-explorer/explorer/8080/tcp") as number, "/node.json");
    }
    assert.equal(explorerPage.status, 200);
    assert.match(
      explorerPage.body,
      /"chain":"regtest"/,
      "fetched by the explorer itself, by the node's name",
    );
  });

  test("published ports, data directories, host paths and devices", async () => {
    const hello = await httpGet(ports.get("hello-web/web/8080/tcp") as number, "/");
    assert.equal(hello.status, 200);
    const seeded = await readFile(
      join(volumeHostPath(dataRoot, ids["hello-web"] as string, "content"), "www/index.html"),
      "utf8",
    );
    assert.equal(hello.body, seeded, "the page lives in the app's data directory");
    const node = body("mini-node", "node");
    const info = await inspect(node.name);
    assert.deepEqual(info.HostConfig.PortBindings["8333/udp"], [
      { HostIp: "0.0.0.0", HostPort: String(ports.get("mini-node/node/8333/udp")) },
    ]);
    assert.match(
      await podman(["exec", node.name, "ls", "-l", "/dev/hwrng"]),
      /^c/,
      "the device is passed in",
    );
    const write = await runAsTestUser(["podman", "exec", node.name, "touch", "/bootstrap/x"]);
    assert.notEqual(write.code, 0, "the host path is mounted read-only");
    const rootWrite = await runAsTestUser(["podman", "exec", node.name, "touch", "/x"]);
    assert.notEqual(rootWrite.code, 0, "the root filesystem is read-only");
    assert.equal(
      (await podman(["exec", node.name, "sh", "-c", "touch /tmp/x && echo ok"])).trim(),
      "ok",
      "/tmp is a writable tmpfs",
    );
  });
});
