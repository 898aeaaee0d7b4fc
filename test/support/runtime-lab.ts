/**
 * One runtime test file's private world on the real rootless Podman of the test user: a unique
 * prefix, a Podman service of its own (so a test may restart it without disturbing anyone), a
 * temporary directory owned by the test user (data root and stand-ins for host paths), and isolated
 * copies of the sample apps (ids, container names and Podman objects carry the prefix; host ports
 * are free ones). `close()` removes exactly what carries the prefix: containers, networks, volumes,
 * secrets, then the directory and the service.
 */
import { chownSync, mkdirSync, mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { volumeHostPath } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import type { RenderContext } from "../../src/render/index.ts";
import { type PodmanPlan, podmanPlan } from "../../src/render/podman-spec.ts";
import type { PodmanClient } from "../../src/runtime/libpod/client.ts";
import type { ContainerRef } from "../../src/runtime/runtime.ts";
import { startPodmanService, type TestPodmanService } from "./podman-service.ts";
import { podman, runAsTestUser, testUser } from "./rootless.ts";
import { isolate, loadSample, runPrefix } from "./samples.ts";
import { sleep, waitFor } from "./wait.ts";

export { sleep };

const isRoot = process.getuid?.() === 0;

export type LabSample = {
  manifest: Manifest;
  ctx: RenderContext;
  plan: PodmanPlan;
  /** Free host ports that replaced the sample's, by `<sample>/<container>/<port>/<protocol>`. */
  ports: Map<string, number>;
  /** The container name of one container key. */
  name(key: string): string;
};

export class RuntimeLab {
  readonly prefix: string;
  readonly service: TestPodmanService;
  readonly root: string;
  readonly dataRoot: string;

  private constructor(prefix: string, service: TestPodmanService, root: string) {
    this.prefix = prefix;
    this.service = service;
    this.root = root;
    this.dataRoot = join(root, "data");
  }

  static async open(): Promise<RuntimeLab> {
    const prefix = runPrefix();
    const root = mkdtempSync(join("/tmp", `archy-lab-${prefix}-`));
    const service = await startPodmanService(prefix);
    const lab = new RuntimeLab(prefix, service, root);
    lab.userDir(root);
    return lab;
  }

  get client(): PodmanClient {
    return this.service.client;
  }

  /** A directory under the lab's root owned by the test user, parents included. */
  userDir(path: string): string {
    mkdirSync(path, { recursive: true });
    if (isRoot)
      for (let dir = path; dir.startsWith(this.root) && dir !== dirname(this.root); dir = dirname(dir))
        chownSync(dir, testUser.uid, testUser.gid);
    return path;
  }

  /**
   * An isolated copy of a sample app with its data directories ready, as the platform makes them
   * (owned, inside the test user's namespace, by the volume's `data_uid`).
   */
  async sample(id: string, edit: (m: Manifest) => void = () => {}): Promise<LabSample> {
    const original = await loadSample(id);
    const { apps, ports } = await isolate(
      { [id]: original },
      { prefix: this.prefix, hostRoot: join(this.root, "host"), device: "/dev/zero" },
    );
    const manifest = apps[`${this.prefix}-${id}`] as Manifest;
    edit(manifest);
    for (const c of Object.values(manifest.containers))
      for (const v of c.volumes) {
        if (v.host_path) this.userDir(v.host_path);
        if (!v.name) continue;
        const dir = this.userDir(volumeHostPath(this.dataRoot, manifest.id, v.name));
        if (c.data_uid !== undefined)
          await podman(["unshare", "chown", `${c.data_uid}:${c.data_uid}`, dir], { timeoutMs: 30_000 });
      }
    const ctx: RenderContext = { dataRoot: this.dataRoot, dependencies: {} };
    const plan = podmanPlan(manifest, ctx);
    return {
      manifest,
      ctx,
      plan,
      ports,
      name(key) {
        const found = plan.containers.find((c) => c.key === key);
        if (!found) throw new Error(`${manifest.id} has no container ${key}`);
        return found.name;
      },
    };
  }

  /** Removes everything whose name carries the prefix, the directory, and the service. */
  async close(): Promise<void> {
    const names = async (args: string[]) =>
      (await runAsTestUser(["podman", ...args], { timeoutMs: 60_000 })).stdout
        .split("\n")
        .map((line) => line.trim())
        .filter((name) => name.includes(this.prefix));
    const containers = await names(["ps", "-a", "--format", "{{.Names}}"]);
    if (containers.length > 0)
      await runAsTestUser(["podman", "rm", "-f", "-t", "0", ...containers], { timeoutMs: 120_000 });
    const networks = await names(["network", "ls", "--format", "{{.Name}}"]);
    if (networks.length > 0) await runAsTestUser(["podman", "network", "rm", "-f", ...networks]);
    const volumes = await names(["volume", "ls", "--format", "{{.Name}}"]);
    if (volumes.length > 0) await runAsTestUser(["podman", "volume", "rm", "-f", ...volumes]);
    const secrets = await names(["secret", "ls", "--format", "{{.Name}}"]);
    if (secrets.length > 0) await runAsTestUser(["podman", "secret", "rm", ...secrets]);
    // Files written by containers belong to the test user's subordinate ids.
    await runAsTestUser(["podman", "unshare", "rm", "-rf", this.root], { timeoutMs: 60_000 });
    await rm(this.root, { recursive: true, force: true });
    await this.service.close();
  }
}

/** What the runtime needs to act on a container it knows by name (as an observation reports it). */
export function refOf(
  name: string,
  backend: ContainerRef["backend"] = "podman",
  unit?: string,
): ContainerRef {
  return { id: name, name, backend, unit };
}

/** `waitFor` with positional arguments (the ceiling defaults to waitFor's, 60 s). */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs?: number,
  intervalMs?: number,
): Promise<T> {
  return waitFor(check, { what, timeoutMs, intervalMs });
}
