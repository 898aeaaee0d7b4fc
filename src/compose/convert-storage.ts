/**
 * A service's mounts and devices in manifest terms. The app's own data (bind mounts under the
 * app's data directory, `${APP_DATA_DIR}`, CasaOS's `/DATA/AppData/<app>`, a path inside the
 * project, named and anonymous volumes) becomes app volumes; a directory under /mnt, /media or
 * /srv (and CasaOS's shared `/DATA/<dir>`, asked as `/srv/<dir>`) a host-path permission; a device
 * a device permission; everything else is not mounted, and the report says what to decide. Pure.
 */
import { posix } from "node:path";
import { ENGINE_SOCKET, hostPathProblem, isCanonicalAbsolute } from "../manifest/host-paths.ts";
import { pathProblem } from "../manifest/renderable.ts";
import { type Conversion, toLabel } from "./convert-context.ts";
import type { ProjectService } from "./project.ts";
import { composeBool, type LongVolume, type VolumeEntry } from "./spec.ts";
import { APP_DATA_MARKER, hasMarker } from "./variables.ts";

export type Mounts = {
  volumes: Array<{
    name?: string;
    host_path?: string;
    permission?: string;
    path: string;
    read_only?: boolean;
  }>;
  tmpfs: string[];
  devices: Array<{ permission: string; path?: string }>;
};

/** Devices an app can never be given (host memory, kernel, network plumbing): security.ts refuses them. */
const FORBIDDEN_DEVICES = ["/dev/mem", "/dev/kmem", "/dev/port", "/dev/kvm", "/dev/fuse", "/dev/net/tun"];
const TIME_ZONE_FILES = ["/etc/localtime", "/etc/timezone"];
/** A file name (`config.yml`, `app.db`), as opposed to a directory. */
const FILE_NAME = /^[^.][^/]*\.[A-Za-z][A-Za-z0-9]{0,5}$/;
/** CasaOS keeps an app's data in /DATA/AppData/<app>, and data shared between apps in /DATA. */
const CASAOS_APP_DATA = /^\/DATA\/AppData\/[^/]+(\/.*)?$/;
const CASAOS_SHARED = /^\/DATA\/(.+)$/;

type Mount = {
  source?: string;
  target: string;
  readOnly: boolean;
  type: LongVolume["type"];
  sub: (string | number)[];
  extra: string[];
};

/** The short syntax (`SOURCE:TARGET[:MODE]`, `TARGET`) and the long one, as one shape. */
function readMount(entry: VolumeEntry, index: number): Mount {
  const sub = ["volumes", index];
  if (typeof entry !== "string") {
    const extra = [
      ...Object.keys(entry.bind ?? {}).map((k) => `bind.${k}`),
      ...Object.keys(entry.volume ?? {}).map((k) => `volume.${k}`),
      ...(entry.consistency ? ["consistency"] : []),
    ];
    return {
      source: entry.source,
      target: entry.target ?? "",
      readOnly: composeBool(entry.read_only) ?? false,
      type: entry.type,
      sub,
      extra,
    };
  }
  const parts = entry.split(":");
  if (parts.length === 1) return { target: entry, readOnly: false, type: "volume", sub, extra: [] };
  const [source, target, mode = ""] = parts as [string, string, string?];
  const modes = mode.split(",").filter((m) => m !== "");
  const isBind = /^[./~]/.test(source) || source.startsWith(APP_DATA_MARKER);
  return {
    source,
    target,
    readOnly: modes.includes("ro"),
    type: isBind ? "bind" : "volume",
    sub,
    extra: modes.filter((m) => m !== "ro" && m !== "rw"),
  };
}

export function convertMounts(
  conversion: Conversion,
  service: ProjectService,
  metadataVolumes: Map<string, string>,
): Mounts {
  const out: Mounts = { volumes: [], tmpfs: [], devices: [] };
  const targets = new Set<string>();
  const { spec } = service;
  const decide = (sub: (string | number)[], message: string, action: string) =>
    conversion.note("decide", service, sub, message, action);

  for (const [index, entry] of (spec.volumes ?? []).entries()) {
    const mount = readMount(entry, index);
    const { sub } = mount;
    const target = mount.target.replace(/\/+$/, "") || "/";
    if (!isCanonicalAbsolute(target) || hasMarker(target)) {
      decide(
        sub,
        `not mounted: the container path ${conversion.restore(mount.target)} is not an absolute path`,
        "mount it at an absolute path",
      );
      continue;
    }
    const targetProblem = pathProblem(target);
    if (targetProblem) {
      decide(
        sub,
        `not mounted: the container path ${JSON.stringify(target)} ${targetProblem}`,
        "mount it at a path of letters, digits and . _ - + @ ~",
      );
      continue;
    }
    if (targets.has(target)) {
      conversion.note(
        "info",
        service,
        sub,
        `not mounted again: ${target} is already mounted by an earlier entry`,
      );
      continue;
    }
    if (mount.extra.length > 0)
      conversion.note(
        "info",
        service,
        sub,
        `options not carried over: ${mount.extra.join(", ")} (the platform mounts app volumes itself)`,
      );
    if (mount.type === "tmpfs") {
      targets.add(target);
      out.tmpfs.push(target);
      continue;
    }
    if (mount.type !== "bind" && mount.type !== "volume") {
      decide(
        sub,
        `not mounted: ${mount.type} mounts are not a platform feature`,
        "use an app volume (`name:`)",
      );
      continue;
    }
    const volume = (name: string) => {
      targets.add(target);
      out.volumes.push({ name, path: target, ...(mount.readOnly ? { read_only: true } : {}) });
    };
    if (mount.type === "volume") {
      volume(namedVolume(conversion, service, mount, target));
      continue;
    }
    const source = mount.source ?? "";
    const appData = appDataPath(source);
    if (appData !== undefined) {
      if (FILE_NAME.test(posix.basename(source)) || FILE_NAME.test(posix.basename(target))) {
        decide(
          sub,
          `not mounted: ${conversion.restore(source)} looks like a single file of the app's data, and app volumes are directories`,
          `ship the file in the app directory and copy it to ${target} with a copy_from_host hook (pre_start), or mount its directory`,
        );
        continue;
      }
      const name = appVolumeName(conversion, `data:${appData}`, appData || posix.basename(target));
      conversion.note(
        "info",
        service,
        sub,
        `the app's data ${conversion.restore(source)} became the app volume \`${name}\` (kept on uninstall, deleted only by purge)`,
      );
      volume(name);
      continue;
    }
    if (hasMarker(source) || !source.startsWith("/")) {
      decide(
        sub,
        `not mounted: ${conversion.restore(source)} is outside the project and the app's data`,
        "use an app volume (`name:`), or a host path under /mnt, /media or /srv",
      );
      continue;
    }
    const path = posix.normalize(source).replace(/\/+$/, "") || "/";
    if (TIME_ZONE_FILES.includes(path)) {
      conversion.note(
        "info",
        service,
        sub,
        `not mounted: the node's ${path} is not given to apps; the time zone comes from TZ`,
        "set TZ in the container's environment",
      );
      continue;
    }
    if (ENGINE_SOCKET.test(path)) {
      decide(
        sub,
        `not mounted: ${path} is a container engine's socket, which would give the app the whole host; it is never given`,
        "remove the features that drive containers, or depend on an app that offers what they need",
      );
      continue;
    }
    if (path.startsWith("/dev/")) {
      const device = devicePermission(conversion, service, path, sub);
      if (device) out.devices.push({ permission: device, ...(target !== path ? { path: target } : {}) });
      continue;
    }
    const shared = CASAOS_SHARED.exec(path);
    // CasaOS's shared data is asked under /srv, with a name the node can mount (no blanks or
    // separators): the operator provides it there either way.
    const hostPath = shared ? `/srv/${(shared[1] as string).replace(/[^A-Za-z0-9._+@~/-]/g, "-")}` : path;
    const refused = hostPathProblem(hostPath);
    const unrenderable = refused ? undefined : pathProblem(hostPath);
    if (refused || unrenderable) {
      decide(
        sub,
        refused
          ? `not mounted: the host path ${path} ${refused.replace(/^it /, "")}`
          : `not mounted: the host path ${JSON.stringify(hostPath)} ${unrenderable}`,
        refused
          ? `use an app volume (\`name:\`) for the app's own data; for data shared with others, a directory under /mnt, /media or /srv (bind-mount ${path} there) with a host-path permission`
          : "bind-mount it at a path of letters, digits and . _ - + @ ~ (such as /srv/media/tv-shows) and mount that",
      );
      continue;
    }
    const described = metadataVolumes.get(mount.target);
    const permission = conversion.permissionName(toLabel(posix.basename(hostPath), "path"), {
      kind: "host-path",
      path: hostPath,
      reason: described
        ? described.slice(0, 500)
        : `Data at ${hostPath}, mounted at ${target} in ${service.name} (imported from docker-compose)`,
    });
    if (shared)
      conversion.note(
        "review",
        service,
        sub,
        `CasaOS's shared data ${path} is asked as the host path ${hostPath} (permission \`${permission}\`, which the operator approves at install)`,
        `check the path; the node refuses the install until ${hostPath} exists (the operator can bind-mount the data there)`,
      );
    else
      conversion.note(
        "info",
        service,
        sub,
        `the host path ${hostPath} is asked with the host-path permission \`${permission}\`, which the operator approves at install`,
      );
    targets.add(target);
    out.volumes.push({
      host_path: hostPath,
      permission,
      path: target,
      ...(mount.readOnly ? { read_only: true } : {}),
    });
  }

  const tmpfs = spec.tmpfs === undefined ? [] : typeof spec.tmpfs === "string" ? [spec.tmpfs] : spec.tmpfs;
  for (const [index, entry] of tmpfs.entries()) {
    const [path, options] = entry.split(":", 2) as [string, string?];
    const sub = typeof spec.tmpfs === "string" ? ["tmpfs"] : ["tmpfs", index];
    if (options)
      conversion.note(
        "info",
        service,
        sub,
        `options not carried over: ${options} (tmpfs mounts are rw,nosuid,nodev, sized by the kernel)`,
      );
    if (!targets.has(path)) {
      targets.add(path);
      out.tmpfs.push(path);
    }
  }

  for (const [index, entry] of (spec.devices ?? []).entries()) {
    const sub = ["devices", index];
    const [source, target] =
      typeof entry === "string" ? (entry.split(":") as [string, string?]) : [entry.source, entry.target];
    const device = devicePermission(conversion, service, source, sub);
    if (device)
      out.devices.push({ permission: device, ...(target && target !== source ? { path: target } : {}) });
  }
  return out;
}

/** A device permission for a host device, or undefined (with the report's line) when it cannot be given. */
function devicePermission(
  conversion: Conversion,
  service: ProjectService,
  path: string,
  sub: (string | number)[],
): string | undefined {
  if (
    !path.startsWith("/dev/") ||
    !isCanonicalAbsolute(path) ||
    FORBIDDEN_DEVICES.some((d) => path === d || path.startsWith(`${d}/`))
  ) {
    conversion.note(
      "decide",
      service,
      sub,
      `not passed: the device ${path} is never given to an app (host memory, kernel or network plumbing)`,
      "check whether the app works without it",
    );
    return undefined;
  }
  const name = conversion.permissionName(toLabel(path.slice("/dev/".length), "device"), {
    kind: "device",
    path,
    reason: `The device ${path}, passed to ${service.name} (imported from docker-compose)`,
  });
  conversion.note(
    "info",
    service,
    sub,
    `the device ${path} is asked with the device permission \`${name}\`, which the operator approves at install`,
  );
  return name;
}

/**
 * The app-data part of a bind mount's source: "" for the data directory itself, `config` for
 * `${APP_DATA_DIR}/config` or `/DATA/AppData/app/config` or `./config`; undefined when the source is
 * not the app's data.
 */
function appDataPath(source: string): string | undefined {
  const tail = (path: string) => posix.normalize(`/${path}`).replace(/^\/+|\/+$/g, "");
  if (source.startsWith(APP_DATA_MARKER)) {
    const rest = source.slice(APP_DATA_MARKER.length);
    return rest === "" || rest.startsWith("/") ? tail(rest) : undefined;
  }
  const casa = CASAOS_APP_DATA.exec(source);
  if (casa) return tail(casa[1] ?? "");
  if (
    source === "." ||
    source.startsWith("./") ||
    (!source.startsWith("/") && !source.startsWith("~") && !hasMarker(source))
  ) {
    const relative = posix.normalize(source);
    return relative === ".." || relative.startsWith("../")
      ? undefined
      : tail(relative === "." ? "" : relative);
  }
  return undefined;
}

/** The app volume for a place in the app's data; one name per place, unique in the app. */
function appVolumeName(conversion: Conversion, identity: string, hint: string): string {
  const known = conversion.volumes.get(identity);
  if (known) return known;
  const base = toLabel(hint.replace(/^\/+/, "") || "data", "data");
  const taken = new Set(conversion.volumes.values());
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  conversion.volumes.set(identity, name);
  return name;
}

/** A named (or anonymous) volume: an app volume; an external one adopts the volume of that name. */
function namedVolume(conversion: Conversion, service: ProjectService, mount: Mount, target: string): string {
  if (mount.source === undefined || mount.source === "") {
    const name = appVolumeName(conversion, `anonymous:${service.name}:${target}`, posix.basename(target));
    conversion.note(
      "info",
      service,
      mount.sub,
      `the anonymous volume at ${target} became the app volume \`${name}\` (kept across restarts and reinstalls)`,
    );
    return name;
  }
  const declared = conversion.project.top.volumes?.[mount.source];
  const name = appVolumeName(conversion, `named:${mount.source}`, mount.source);
  if (declared && typeof declared === "object") {
    const external = composeBool(typeof declared.external === "object" ? true : declared.external);
    if (external) {
      const legacy =
        (typeof declared.external === "object" ? declared.external.name : undefined) ??
        declared.name ??
        mount.source;
      conversion.adoptVolumes.set(name, legacy);
      conversion.note(
        "info",
        service,
        mount.sub,
        `the external volume ${legacy} is taken over by the app volume \`${name}\` on install (a copy; the original is left as it is)`,
      );
      return name;
    }
    if (declared.driver || declared.driver_opts)
      conversion.note(
        "decide",
        service,
        mount.sub,
        `the volume ${mount.source} has a driver or driver options, which are not carried over: \`${name}\` is a plain app volume`,
        "if it was a network share or a bind mount, use a host path under /mnt, /media or /srv with a permission",
      );
  }
  return name;
}
