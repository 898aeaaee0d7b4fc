/**
 * Whatever validates, Podman creates: a bounded sample of the valid hostile manifests of
 * test/support/hostile-manifests.ts (quotes, spaces, `;`, `%`, `$`, line breaks and unicode in
 * commands and environment values; odd address spellings; unicode paths) goes to a real libpod API
 * (a private `podman system service` of the rootless test user), which creates every container of
 * each app from its create body (devices and secrets included), and keeps every value whole: the
 * command, the entrypoint, the working directory, the environment and the mounts read back as the
 * manifest says.
 *
 * The apps run beside anything else (ids and names carry the run's prefix) with what this machine
 * has (the test image, host paths under a private root, /dev/zero for devices); the containers are
 * created, not started, and removed after.
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { type PodmanPlan, podmanPlan } from "../../src/render/podman-spec.ts";
import { hostileCases } from "../support/hostile-manifests.ts";
import { PodmanService } from "../support/podman-api.ts";
import { runAsTestUser, testUser } from "../support/rootless.ts";
import { runPrefix } from "../support/samples.ts";

const SEED = 120013;
/** Manifests drawn, and how many of the valid ones Podman creates (each costs seconds). */
const DRAWN = 60;
const CREATED = 12;

const prefix = runPrefix();
const isRoot = process.getuid?.() === 0;
let root: string;
let service: PodmanService;
const plans: PodmanPlan[] = [];
const created = {
  containers: [] as string[],
  volumes: [] as string[],
  networks: [] as string[],
  secrets: [] as string[],
};

/** A directory the test user owns, with every parent under `root` (the daemon creates these on a node). */
function userDir(path: string): void {
  mkdirSync(path, { recursive: true });
  if (!isRoot) return;
  for (let dir = path; dir.startsWith(root) && dir !== dirname(root); dir = dirname(dir))
    chownSync(dir, testUser.uid, testUser.gid);
}

type Inspect = {
  /** The program and its arguments: entrypoint and command, word for word. */
  Path: string;
  Args: string[];
  Config: {
    WorkingDir: string;
    Env: string[];
    User: string;
  };
  Mounts: Array<{ Destination: string }>;
  HostConfig: {
    Devices: Array<{ PathOnHost: string; PathInContainer: string }> | null;
    Tmpfs: Record<string, string> | null;
  };
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), `archy-create-${prefix}-`));
  userDir(root);
  const dataRoot = join(root, "data");
  const apps = hostileCases(SEED, DRAWN, prefix)
    .flatMap((c) => (c.result.ok ? [c.result.manifest] : []))
    .slice(0, CREATED);
  assert.equal(apps.length, CREATED, `only ${apps.length} of ${DRAWN} drawn manifests are valid`);
  // What this machine has: the test image, host directories under a private root, /dev/zero.
  const hostRoot = join(root, "host");
  for (const m of apps) {
    for (const c of Object.values(m.containers)) {
      c.image = TEST_IMAGE;
      for (const v of c.volumes) if (v.host_path) v.host_path = `${hostRoot}${v.host_path}`;
      for (const d of c.devices) {
        const permission = m.permissions[d.permission];
        if (permission?.kind === "device") d.path ??= permission.path;
      }
    }
    for (const permission of Object.values(m.permissions)) {
      if (permission.kind === "host-path") permission.path = `${hostRoot}${permission.path}`;
      if (permission.kind === "device") permission.path = "/dev/zero";
    }
  }
  service = new PodmanService(join(tmpdir(), `archy-${prefix}.sock`));
  await service.start();
  for (const m of apps) {
    const plan = podmanPlan(m, { dataRoot, dependencies: {} });
    plans.push(plan);
    // The Podman secrets the containers reference, by the names the plan gives them.
    const secrets = new Set(
      plan.containers.flatMap((c) => [
        ...(c.body.secrets ?? []).map((s) => s.Source),
        ...Object.values(c.body.secret_env ?? {}),
      ]),
    );
    for (const name of secrets) {
      await service.ok("POST", `/secrets/create?name=${name}`, "not-a-real-secret");
      created.secrets.push(name);
    }
    await service.ok("POST", "/networks/create", plan.network);
    created.networks.push(plan.network.name);
    for (const v of plan.volumes) {
      userDir(v.Options.device);
      await service.ok("POST", "/volumes/create", v);
      created.volumes.push(v.Name);
    }
    for (const c of Object.values(m.containers))
      for (const v of c.volumes) if (v.host_path) userDir(v.host_path);
  }
});

after(async () => {
  if (!service) return;
  for (const name of created.containers.reverse())
    await service.request("DELETE", `/containers/${name}?force=true&v=true&t=0`).catch(() => undefined);
  for (const name of created.volumes)
    await service.request("DELETE", `/volumes/${name}?force=true`).catch(() => undefined);
  for (const name of created.networks)
    await service.request("DELETE", `/networks/${name}`).catch(() => undefined);
  for (const name of created.secrets)
    await service.request("DELETE", `/secrets/${name}`).catch(() => undefined);
  await service.stop();
  if (root) {
    await runAsTestUser(["podman", "unshare", "rm", "-rf", root]);
    await rm(root, { recursive: true, force: true });
  }
});

test(`Podman creates every container of ${CREATED} valid hostile manifests, keeping each value whole`, async () => {
  const failures: string[] = [];
  for (const plan of plans)
    for (const c of plan.containers) {
      const response = await service.request("POST", "/containers/create", c.body);
      if (response.status !== 201) {
        failures.push(`${c.name}: ${response.status} ${response.text.trim()}\n${JSON.stringify(c.body)}`);
        continue;
      }
      created.containers.push(c.name);
      const info = (await service.ok("GET", `/containers/${c.name}/json`)) as Inspect;
      const where = `${c.name}: ${JSON.stringify(c.body)}`;
      // The test image has no entrypoint, so the program is the entrypoint's or the command's.
      // Inspect shows a program without arguments with itself as its argument.
      const argv = [...(c.body.entrypoint ?? []), ...(c.body.command ?? [])];
      if (argv.length > 0)
        assert.deepEqual(
          argv.length === 1 && info.Args.length === 1 && info.Args[0] === info.Path
            ? [info.Path]
            : [info.Path, ...info.Args],
          argv,
          `entrypoint and command of ${where}`,
        );
      if (c.body.work_dir)
        assert.equal(info.Config.WorkingDir, c.body.work_dir, `working directory of ${where}`);
      if (c.body.user) assert.equal(info.Config.User, c.body.user);
      for (const [name, value] of Object.entries(c.body.env))
        assert.ok(
          info.Config.Env.includes(`${name}=${value}`),
          `${name}=${JSON.stringify(value)} in ${where}`,
        );
      const destinations = new Set(info.Mounts.map((m) => m.Destination));
      for (const v of c.body.volumes ?? [])
        assert.ok(destinations.has(v.Dest), `volume at ${v.Dest} of ${where}`);
      for (const m of c.body.mounts ?? [])
        if (m.type === "bind")
          assert.ok(destinations.has(m.destination), `bind mount at ${m.destination} of ${where}`);
    }
  console.log(`# Podman created ${created.containers.length} containers of ${plans.length} apps`);
  assert.deepEqual(failures, []);
});
