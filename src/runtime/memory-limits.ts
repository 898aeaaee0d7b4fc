/**
 * Whether Podman can enforce a container's memory limit on this host. Rootless Podman on cgroup v1
 * accepts `--memory` and ignores it ("Resource limits are not supported and ignored on cgroups V1
 * rootless systems": `HostConfig.Memory` stays 0); on cgroup v2 it needs the memory controller
 * delegated to the user's slice. Pure: decided from `podman info`.
 */
export type MemoryLimits = { enforced: true } | { enforced: false; why: string };

export type CgroupFacts = { rootless: boolean; cgroupVersion: string; cgroupControllers: readonly string[] };

export function memoryLimitsOf(facts: CgroupFacts): MemoryLimits {
  if (!facts.rootless) return { enforced: true };
  if (facts.cgroupVersion !== "v2")
    return {
      enforced: false,
      why: `rootless Podman on cgroup ${facts.cgroupVersion} ignores resource limits; boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and delegate the memory controller to the user`,
    };
  if (!facts.cgroupControllers.includes("memory"))
    return {
      enforced: false,
      why: "the memory cgroup controller is not delegated to this user; delegate it (a systemd drop-in for user@.service with Delegate=memory pids cpu)",
    };
  return { enforced: true };
}
