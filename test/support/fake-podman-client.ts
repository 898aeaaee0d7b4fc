/**
 * A libpod client whose calls a test chooses, for `PodmanRuntime`'s fault-injection tests (a stop
 * that does nothing, a Podman that lists what the test says). Each resource takes the methods the
 * test fakes, type-checked against the real client's; any other call fails the test with its name,
 * rather than answering something no Podman would.
 */
import type { PodmanClient } from "../../src/runtime/libpod/client.ts";

type Resource = "containers" | "images" | "networks" | "volumes" | "secrets";
type Fakes = { [R in Resource]?: Partial<PodmanClient[R]> };

function refusing<T extends object>(what: string, fakes: Partial<T>): T {
  return new Proxy(fakes, {
    get(target, name) {
      if (name in target) return target[name as keyof T];
      if (typeof name === "symbol" || name === "then") return undefined;
      throw new Error(`the fake Podman client was not told how to answer ${what}.${name}`);
    },
  }) as T;
}

export function fakePodmanClient(fakes: Fakes & { socketPath?: string }): PodmanClient {
  const client = {
    socketPath: fakes.socketPath ?? "/fake/podman.sock",
    containers: refusing("containers", fakes.containers ?? {}),
    images: refusing("images", fakes.images ?? {}),
    networks: refusing("networks", fakes.networks ?? {}),
    volumes: refusing("volumes", fakes.volumes ?? {}),
    secrets: refusing("secrets", fakes.secrets ?? {}),
  };
  return refusing<PodmanClient>("client", client as Partial<PodmanClient>);
}
