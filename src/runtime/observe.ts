/**
 * One observation of every container the platform manages: a single labelled list call, plus one
 * list by name for legacy containers being adopted (which carry none of the platform's labels).
 * The number of Podman calls does not grow with the number of containers.
 */
import type { PodmanClient } from "./libpod/client.ts";
import { fromSummary, MANAGED_FILTER, type ObservedContainer } from "./observed.ts";
import type { LegacyName, Observation } from "./runtime.ts";

export async function observe(
  client: PodmanClient,
  legacy: ReadonlyMap<string, LegacyName> = new Map(),
): Promise<Observation> {
  const at = Date.now();
  let calls = 1;
  const managed = (await client.containers.list([MANAGED_FILTER])).map(fromSummary);
  const seen = new Set(managed.map((c) => c.name));
  const wanted = [...legacy.keys()].filter((name) => !seen.has(name));
  const adopted: ObservedContainer[] = [];
  if (wanted.length > 0) {
    calls++;
    for (const summary of await client.containers.listByName(wanted)) {
      const container = fromSummary(summary);
      const owner = legacy.get(container.name);
      if (owner) adopted.push({ ...container, appId: owner.appId, key: owner.key });
    }
  }
  return { at, containers: [...managed, ...adopted], calls };
}
