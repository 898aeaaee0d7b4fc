/**
 * What an app asks of the node, in plain words, for the operator to read before installing it: the
 * apps it needs, the ports it opens and to whom, where it keeps data, the host folders and devices
 * it reaches. Pure: derived from the manifest alone. (What each permission grants, for approval, is
 * `permissions.ts`'s.)
 */
import { publishedBind } from "./access.ts";
import type { Manifest } from "./schema.ts";

export const NEED_KINDS = ["dependency", "port", "storage", "host-path", "device"] as const;
export type NeedKind = (typeof NEED_KINDS)[number];
export type Need = { kind: NeedKind; text: string };

const LOCAL_BINDS = new Set(["127.0.0.1", "::1"]);

export function describeNeeds(manifest: Manifest): Need[] {
  const needs: Need[] = [];
  for (const dependency of manifest.dependencies) {
    const version = dependency.version === "*" ? "" : ` ${dependency.version}`;
    const state = dependency.state === "installed" ? "installed" : dependency.state;
    needs.push({ kind: "dependency", text: `Needs the app ${dependency.id}${version}, ${state}` });
  }
  const containers = Object.entries(manifest.containers);
  const several = containers.length > 1;
  for (const [key, container] of containers) {
    const where = several ? ` (${key})` : "";
    for (const port of container.ports) {
      if (port.host === undefined) continue;
      // An interface's port is on loopback unless the manifest binds it elsewhere (access.ts).
      const bind = publishedBind(manifest, key, port);
      const to = LOCAL_BINDS.has(bind)
        ? "to this node only"
        : bind === "0.0.0.0" || bind === "::"
          ? "to your network"
          : `on the address ${bind}`;
      needs.push({ kind: "port", text: `Opens port ${port.host}/${port.protocol} ${to}${where}` });
    }
    for (const volume of container.volumes) {
      const access = volume.read_only ? "Reads" : "Reads and writes";
      if (volume.host_path !== undefined) {
        const reason = volume.permission ? manifest.permissions[volume.permission]?.reason : undefined;
        needs.push({
          kind: "host-path",
          text: `${access} the host folder ${volume.host_path}${where}${reason ? `: ${reason}` : ""}`,
        });
      } else if (volume.name !== undefined)
        needs.push({
          kind: "storage",
          text: `Keeps its data in the volume "${volume.name}"${where}, kept when it is uninstalled`,
        });
    }
    for (const device of container.devices) {
      const permission = manifest.permissions[device.permission];
      const path = permission && "path" in permission ? permission.path : device.permission;
      needs.push({
        kind: "device",
        text: `Uses the device ${path}${where}${permission ? `: ${permission.reason}` : ""}`,
      });
    }
  }
  // Storage once per volume name, whichever containers mount it.
  return needs.filter(
    (need, i) => need.kind !== "storage" || needs.findIndex((n) => n.text === need.text) === i,
  );
}
