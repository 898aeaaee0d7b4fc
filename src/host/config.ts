/** Pure logic about Podman's configuration files on a node. */

export const CONTAINERS_CONF_DROPIN = "/etc/containers/containers.conf.d/50-archipelago.conf";
export const STORAGE_CONF = "/etc/containers/storage.conf";

/**
 * The containers.conf drop-in Archipelago needs:
 * - `runtime = "runc"`: crun refuses kernels with hybrid cgroups; runc works on both.
 * - `default_ulimits = []`: no ulimits forced on containers (container creation failed without it on
 *   the test machines, whose hard limits are low).
 * - cgroup manager and events logger: systemd/journald where systemd runs the machine (user
 *   sessions with linger then exist), cgroupfs/file otherwise (no user systemd to talk to).
 * - netavark networking (the Debian 12 default is CNI when both are present).
 * - `exit_command_delay = 10`: every exec (the daemon's health probes) otherwise leaves conmon
 *   processes waiting 5 minutes; with probes every few seconds they pile up by the thousand.
 * - `keyring = false`: no kernel session keyring per container. Each one costs one of the user's
 *   kernel keys (`kernel.keys.maxkeys`, 200 for a user on Debian), which capped a node at about 200
 *   running containers; apps do not use the keyring.
 */
export function containersConf(systemd: boolean): string {
  return [
    "[containers]",
    "default_ulimits = []",
    "keyring = false",
    "[engine]",
    'runtime = "runc"',
    "exit_command_delay = 10",
    `cgroup_manager = "${systemd ? "systemd" : "cgroupfs"}"`,
    `events_logger = "${systemd ? "journald" : "file"}"`,
    "[network]",
    'network_backend = "netavark"',
    "",
  ].join("\n");
}

/**
 * storage.conf: native overlay (without a storage.conf Debian 12's Podman falls back to the slow
 * vfs driver for rootless users). Root's Podman refuses a storage.conf without `runroot` and
 * `graphroot` ("runroot must be set"), so those are Debian's defaults; rootless users ignore them
 * and keep their storage under their home.
 */
export const STORAGE_CONF_CONTENT = [
  "[storage]",
  'driver = "overlay"',
  'runroot = "/run/containers/storage"',
  'graphroot = "/var/lib/containers/storage"',
  "",
].join("\n");

/** The `key = value` pairs of one `[section]` of a TOML file (strings unquoted; enough for these files). */
export function tomlSection(content: string, section: string): Map<string, string> {
  const values = new Map<string, string>();
  let current = "";
  for (const raw of content.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = header[1] as string;
      continue;
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (pair && current === section)
      values.set(pair[1] as string, (pair[2] as string).replace(/^"(.*)"$/, "$1"));
  }
  return values;
}

export type FileStatus = { ok: boolean; detail: string };

/** Whether the drop-in is exactly what `containersConf` wants (Archipelago owns this file). */
export function containersConfStatus(current: string | null, systemd: boolean): FileStatus {
  if (current === null) return { ok: false, detail: "missing" };
  if (current === containersConf(systemd)) {
    const engine = tomlSection(current, "engine");
    return {
      ok: true,
      detail: `runtime ${engine.get("runtime")}, cgroup manager ${engine.get("cgroup_manager")}`,
    };
  }
  return { ok: false, detail: "content differs from what Archipelago needs" };
}

/**
 * Whether storage.conf selects overlay and names root's storage (other settings an operator added
 * are kept as long as those hold).
 */
export function storageConfStatus(current: string | null): FileStatus {
  if (current === null) return { ok: false, detail: "missing (Podman would use vfs for rootless users)" };
  const storage = tomlSection(current, "storage");
  const driver = storage.get("driver");
  if (driver !== "overlay") return { ok: false, detail: `driver is ${driver ? `"${driver}"` : "not set"}` };
  const unset = ["runroot", "graphroot"].filter((key) => !storage.get(key));
  if (unset.length > 0) return { ok: false, detail: `${unset.join(" and ")} not set (root's Podman fails)` };
  return { ok: true, detail: 'driver "overlay"' };
}
