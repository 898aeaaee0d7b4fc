/** Networks, volumes and secrets through the libpod API. */
import { isPodmanError } from "./errors.ts";
import type { LibpodTransport } from "./transport.ts";

export type NetworkInspect = {
  name: string;
  id: string;
  dns_enabled: boolean;
  labels?: Record<string, string> | null;
  subnets?: Array<{ subnet: string; gateway?: string }> | null;
};
export type VolumeInspect = {
  Name: string;
  Mountpoint: string;
  Driver?: string;
  Labels: Record<string, string> | null;
  Options?: Record<string, string> | null;
};
export type SecretInspect = { ID: string; Spec: { Name: string }; CreatedAt: string };

async function notFoundAsUndefined<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (isPodmanError(error, "not-found")) return undefined;
    throw error;
  }
}

export class Networks {
  #http: LibpodTransport;
  constructor(http: LibpodTransport) {
    this.#http = http;
  }

  /** Creates a network from a rendered body (name, dns_enabled, labels…). */
  async create(spec: Record<string, unknown>): Promise<NetworkInspect> {
    const { body } = await this.#http.request<NetworkInspect>({
      method: "POST",
      path: "/networks/create",
      body: spec,
      operation: "network.create",
    });
    return body;
  }

  find(name: string): Promise<NetworkInspect | undefined> {
    return notFoundAsUndefined(
      this.#http
        .request<NetworkInspect>({
          method: "GET",
          path: `/networks/${encodeURIComponent(name)}/json`,
          operation: "network.inspect",
        })
        .then((r) => r.body),
    );
  }

  async list(labels: string[]): Promise<NetworkInspect[]> {
    const { body } = await this.#http.request<NetworkInspect[] | null>({
      method: "GET",
      path: "/networks/json",
      query: { filters: JSON.stringify({ label: labels }) },
      operation: "network.list",
    });
    return body ?? [];
  }

  async remove(name: string): Promise<void> {
    await notFoundAsUndefined(
      this.#http.request({
        method: "DELETE",
        path: `/networks/${encodeURIComponent(name)}`,
        operation: "network.remove",
      }),
    );
  }
}

export class Volumes {
  #http: LibpodTransport;
  constructor(http: LibpodTransport) {
    this.#http = http;
  }

  async create(spec: Record<string, unknown>): Promise<VolumeInspect> {
    const { body } = await this.#http.request<VolumeInspect>({
      method: "POST",
      path: "/volumes/create",
      body: spec,
      operation: "volume.create",
    });
    return body;
  }

  find(name: string): Promise<VolumeInspect | undefined> {
    return notFoundAsUndefined(
      this.#http
        .request<VolumeInspect>({
          method: "GET",
          path: `/volumes/${encodeURIComponent(name)}/json`,
          operation: "volume.inspect",
        })
        .then((r) => r.body),
    );
  }

  async list(labels: string[]): Promise<VolumeInspect[]> {
    const { body } = await this.#http.request<VolumeInspect[] | null>({
      method: "GET",
      path: "/volumes/json",
      query: { filters: JSON.stringify({ label: labels }) },
      operation: "volume.list",
    });
    return body ?? [];
  }

  /** Removes the Podman volume object; for bind-backed app volumes the data on disk stays. */
  async remove(name: string): Promise<void> {
    await notFoundAsUndefined(
      this.#http.request({
        method: "DELETE",
        path: `/volumes/${encodeURIComponent(name)}`,
        operation: "volume.remove",
      }),
    );
  }
}

export class Secrets {
  #http: LibpodTransport;
  constructor(http: LibpodTransport) {
    this.#http = http;
  }

  /** Creates (or with `replace`, replaces) a Podman secret; the value travels only in the body. */
  async create(name: string, value: Uint8Array, options: { replace?: boolean } = {}): Promise<void> {
    if (options.replace) await this.remove(name);
    await this.#http.request({
      method: "POST",
      path: "/secrets/create",
      query: { name, driver: "file" },
      body: value,
      operation: "secret.create",
    });
  }

  /** Every secret (names and ids only: libpod never lists values). */
  async list(): Promise<SecretInspect[]> {
    const response = await this.#http.request<SecretInspect[] | null>({
      method: "GET",
      path: "/secrets/json",
      operation: "secret.list",
    });
    return response.body ?? [];
  }

  find(name: string): Promise<SecretInspect | undefined> {
    return notFoundAsUndefined(
      this.#http
        .request<SecretInspect>({
          method: "GET",
          path: `/secrets/${encodeURIComponent(name)}/json`,
          operation: "secret.inspect",
        })
        .then((r) => r.body),
    );
  }

  async remove(name: string): Promise<void> {
    await notFoundAsUndefined(
      this.#http.request({
        method: "DELETE",
        path: `/secrets/${encodeURIComponent(name)}`,
        operation: "secret.remove",
      }),
    );
  }
}
