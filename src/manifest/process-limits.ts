/**
 * A container's `shm_size` and `ulimits` make sense: a soft limit no higher than its hard one, a
 * /dev/shm of a size Podman takes, and one way to size /dev/shm, not two. Pure.
 */
import type { Finding } from "./issues.ts";
import { MAX_SHM_BYTES, type Manifest, memorySize } from "./schema.ts";

export function checkProcessLimits(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    for (const [name, limit] of Object.entries(container.ulimits))
      if (limit && limit.soft > limit.hard)
        findings.push({
          path: ["containers", key, "ulimits", name],
          message: `the soft limit (${limit.soft}) is above the hard limit (${limit.hard}), which no process can have`,
          fix: `lower soft to at most ${limit.hard}, or raise hard`,
          rule: "limits.ulimit",
        });
    if (container.shm_size === undefined) continue;
    if (container.shm_size > MAX_SHM_BYTES)
      findings.push({
        path: ["containers", key, "shm_size"],
        message: `${memorySize(container.shm_size)} is more than the ${memorySize(MAX_SHM_BYTES)} a /dev/shm can have here`,
        fix: `use at most ${memorySize(MAX_SHM_BYTES)}`,
        rule: "limits.shm-size",
      });
    if (container.tmpfs.includes("/dev/shm"))
      findings.push({
        path: ["containers", key, "shm_size"],
        message: "/dev/shm is also a `tmpfs` of this container: it would be mounted twice",
        fix: "keep shm_size (a /dev/shm of that size) and remove /dev/shm from `tmpfs`",
        rule: "limits.shm-size",
      });
  }
  return findings;
}
