/** Pure logic deciding, from what Podman and the system printed, whether a node is set up. */

import { memoryLimitsOf } from "../runtime/memory-limits.ts";
import { PAUSE_PROCESS_GONE } from "../runtime/pause-process.ts";

export type Status = { ok: boolean; detail: string };

/**
 * Podman's warning when a user's storage was initialised with another driver than configured:
 * `User-selected graph driver "overlay" overwritten by graph driver "vfs" from database` (the
 * quotes arrive escaped in logrus' `msg="..."` form).
 */
const DRIVER_OVERWRITTEN = /graph driver \\?"(\w*)\\?" overwritten by graph driver \\?"(\w*)\\?"/i;

/**
 * How a broken rootless Podman is repaired: `migrate` restarts the pause process and keeps every
 * container and image; `reset` deletes them (the only way off storage made with another driver).
 */
export type PodmanRepair = "migrate" | "reset" | null;

export type PodmanInfoStatus = Status & { repair: PodmanRepair };

/**
 * Evaluates `podman info --format json` (exit code, stdout, stderr): rootless Podman works with the
 * overlay driver and runc, and says which repair fixes it when it does not.
 */
export function podmanInfoStatus(code: number, stdout: string, stderr: string): PodmanInfoStatus {
  const overwritten = DRIVER_OVERWRITTEN.exec(stderr);
  const [, configured, stored] = overwritten ?? [];
  // Only when overlay is configured is a reset the fix; otherwise the configuration is wrong.
  const repair: PodmanRepair = PAUSE_PROCESS_GONE.test(stderr)
    ? "migrate"
    : configured === "overlay"
      ? "reset"
      : null;
  if (code !== 0) {
    const message = stderr.trim().split("\n").slice(-3).join(" / ") || `exit code ${code}`;
    return { ok: false, detail: `podman info failed: ${message}`, repair };
  }
  let info: {
    store?: { graphDriverName?: string };
    host?: {
      ociRuntime?: { name?: string };
      security?: { rootless?: boolean };
      cgroupVersion?: string;
      cgroupControllers?: string[] | null;
    };
  };
  try {
    info = JSON.parse(stdout);
  } catch {
    return { ok: false, detail: "podman info printed no JSON", repair };
  }
  const driver = info.store?.graphDriverName ?? "unknown";
  const runtime = info.host?.ociRuntime?.name ?? "unknown";
  const limits = memoryLimitsOf({
    rootless: info.host?.security?.rootless ?? true,
    cgroupVersion: info.host?.cgroupVersion ?? "unknown",
    cgroupControllers: info.host?.cgroupControllers ?? [],
  });
  // Not a failure: apps run, but a manifest's `memory` is not applied (installs and status say so).
  const detail = `driver ${driver}, runtime ${runtime}; memory limits ${limits.enforced ? "enforced" : `NOT enforced: ${limits.why}`}`;
  const problems: string[] = [];
  if (driver !== "overlay") problems.push(`driver is ${driver}, want overlay`);
  if (runtime !== "runc") problems.push(`runtime is ${runtime}, want runc`);
  if (overwritten)
    problems.push(`storage was initialised with ${stored}, configured driver is ${configured}`);
  return problems.length > 0
    ? { ok: false, detail: problems.join("; "), repair }
    : { ok: true, detail, repair };
}

/** The label the test image carries: a hash of its build script and busybox binary. */
export const TEST_IMAGE_HASH_LABEL = "io.archipelago.test-image-hash";

/**
 * Evaluates `podman image inspect IMAGE` (exit code, stdout): the image exists and was built from
 * the current build script and busybox (`wantHash`).
 */
export function testImageStatus(code: number, stdout: string, wantHash: string): Status {
  if (code !== 0) return { ok: false, detail: "image not present" };
  let labels: Record<string, string> | undefined;
  try {
    const [image] = JSON.parse(stdout) as {
      Labels?: Record<string, string>;
      Config?: { Labels?: Record<string, string> };
    }[];
    labels = image?.Labels ?? image?.Config?.Labels;
  } catch {
    return { ok: false, detail: "podman image inspect printed no JSON" };
  }
  const have = labels?.[TEST_IMAGE_HASH_LABEL];
  if (!have) return { ok: false, detail: "image present but has no build hash label (built by hand?)" };
  if (have !== wantHash)
    return {
      ok: false,
      detail: `image is stale (built from ${have.slice(0, 12)}, now ${wantHash.slice(0, 12)})`,
    };
  return { ok: true, detail: `present, build ${have.slice(0, 12)}` };
}

/** Evaluates `quadlet -dryrun` on a tiny `.container`: it must exit 0 and print a `[Service]` section. */
export function quadletStatus(code: number, stdout: string, stderr: string): Status {
  if (code === 127) return { ok: false, detail: "not installed" };
  if (code !== 0)
    return { ok: false, detail: `dry run failed (${code}): ${stderr.trim().split("\n").pop() ?? ""}` };
  if (!/^\[Service\]$/m.test(stdout)) return { ok: false, detail: "dry run printed no [Service] section" };
  return { ok: true, detail: "dry run renders a .container" };
}

/** Evaluates `findmnt -no PROPAGATION /`: `/` must be a shared mount (Podman's rootless mounts need it). */
export function propagationStatus(code: number, stdout: string): Status {
  const propagation = stdout.trim();
  if (code !== 0 || propagation === "") return { ok: false, detail: "cannot tell (findmnt failed)" };
  return { ok: propagation.split(",").includes("shared"), detail: `/ is ${propagation}` };
}

/** Whether a character device's mode lets every user read and write it. */
export function worldReadWritable(mode: number): boolean {
  return (mode & 0o666) === 0o666;
}
