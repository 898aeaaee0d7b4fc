/** The libpod client: one transport, typed resources. The only door from the platform to Podman. */
import { Containers } from "./containers.ts";
import { DnsServer, netavarkRunDir } from "./dns-server.ts";
import { EventStream, type EventStreamOptions } from "./events.ts";
import { Images } from "./images.ts";
import { Networks, Secrets, Volumes } from "./networks.ts";
import { type CallObserver, LibpodTransport } from "./transport.ts";

export type PodmanInfo = {
  version: string;
  apiVersion: string;
  rootless: boolean;
  runRoot: string;
  /** Where images, containers' files (and by default volumes) are kept. */
  graphRoot: string;
  volumePath: string;
  cgroupManager: string;
  /** `v1` or `v2`. */
  cgroupVersion: string;
  /** The cgroup controllers this Podman can use (on v2 rootless: those delegated to the user). */
  cgroupControllers: string[];
  ociRuntime: string;
  graphDriver: string;
};

export class PodmanClient {
  readonly transport: LibpodTransport;
  readonly containers: Containers;
  readonly images: Images;
  readonly networks: Networks;
  readonly volumes: Volumes;
  readonly secrets: Secrets;
  /** The last `info` answer: what it holds (versions, paths, cgroups) does not change under a service. */
  #info: PodmanInfo | undefined;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.transport = new LibpodTransport(socketPath, options);
    this.images = new Images(this.transport);
    this.networks = new Networks(this.transport);
    this.containers = new Containers(
      this.transport,
      // The daemon asks for info when it connects: the first start then needs no second, slow call.
      new DnsServer(async () => netavarkRunDir(this.#info ?? (await this.info()))),
    );
    this.volumes = new Volumes(this.transport);
    this.secrets = new Secrets(this.transport);
  }

  get socketPath(): string {
    return this.transport.socketPath;
  }

  observe(observer: CallObserver): () => void {
    return this.transport.observe(observer);
  }

  async ping(timeoutMs = 2_000): Promise<void> {
    await this.transport.request({ method: "GET", path: "/_ping", timeoutMs, operation: "system.ping" });
  }

  async info(): Promise<PodmanInfo> {
    type Raw = {
      version: { Version: string; APIVersion: string };
      host: {
        security: { rootless: boolean };
        cgroupManager: string;
        cgroupVersion?: string;
        cgroupControllers?: string[] | null;
        ociRuntime: { name: string };
      };
      store: { graphDriverName: string; runRoot: string; graphRoot: string; volumePath?: string };
    };
    const { body } = await this.transport.request<Raw>({
      method: "GET",
      path: "/info",
      operation: "system.info",
    });
    this.#info = {
      version: body.version.Version,
      apiVersion: body.version.APIVersion,
      rootless: body.host.security.rootless,
      runRoot: body.store.runRoot,
      graphRoot: body.store.graphRoot,
      volumePath: body.store.volumePath ?? "",
      cgroupManager: body.host.cgroupManager,
      cgroupVersion: body.host.cgroupVersion ?? "unknown",
      cgroupControllers: body.host.cgroupControllers ?? [],
      ociRuntime: body.host.ociRuntime.name,
      graphDriver: body.store.graphDriverName,
    };
    return this.#info;
  }

  events(options: EventStreamOptions): EventStream {
    return new EventStream(this.transport, options);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
