/**
 * The security policy of SPEC invariants 1 and 3, as pure checks over a parsed manifest: no host
 * paths, devices, low ports or elevated capabilities unless a named permission declares them, and
 * some things (system directories, container-engine sockets) never, whatever is declared.
 */

import {
  HOST_PATH_FIX,
  hostPathProblem,
  isCanonicalAbsolute,
  LEGACY_DATA_FIX,
  legacyDataPathProblem,
} from "./host-paths.ts";
import type { Finding, PathSegment } from "./issues.ts";
import {
  ALL_CAPABILITIES,
  type ContainerSpec,
  ELEVATED_CAPABILITIES,
  type Manifest,
  type PermissionSpec,
} from "./schema.ts";
import { closest } from "./suggest.ts";

const FORBIDDEN_DEVICES = ["/dev/mem", "/dev/kmem", "/dev/port", "/dev/kvm", "/dev/fuse", "/dev/net/tun"];

function isUnder(path: string, root: string): boolean {
  return root === "/" ? true : path === root || path.startsWith(`${root}/`);
}

/** Container paths the runtime mounts itself: a mount of the app's there would hide or break them. */
const RUNTIME_PATHS = ["/proc", "/sys", "/dev"];

/** What a container mounts (volumes, file secrets, tmpfs): where, the field that says so, and a good example. */
export function mountPoints(
  container: ContainerSpec,
  at: PathSegment[],
): Array<{ what: string; mountPath: string; path: PathSegment[]; example: string }> {
  return [
    ...container.volumes.map((v, i) => ({
      what: "volume path",
      mountPath: v.path,
      path: [...at, "volumes", i, "path"],
      example: "/data",
    })),
    ...container.secrets.map((s, i) => ({
      what: "secret target",
      mountPath: s.target,
      path: [...at, "secrets", i, "target"],
      example: `/run/secrets/${"secret" in s ? s.secret : s.consumer}`,
    })),
    ...container.tmpfs.map((t, i) => ({
      what: "tmpfs path",
      mountPath: t,
      path: [...at, "tmpfs", i],
      example: "/tmp",
    })),
  ];
}

/** Why a path inside the container cannot be a mount point (volume, secret, tmpfs), or undefined. */
function forbiddenMountPath(path: string, what: string): string | undefined {
  if (!isCanonicalAbsolute(path))
    return "is not a canonical absolute path (no `.`, `..`, `//` or trailing `/`)";
  if (path === "/") return "is the container's root: a mount there would hide the image's whole file system";
  // A tmpfs of its own at /dev/shm is how an app gets a larger shared-memory area (databases do).
  if (what === "tmpfs path" && path === "/dev/shm") return undefined;
  const runtime = RUNTIME_PATHS.find((root) => isUnder(path, root));
  if (runtime) return `is inside ${runtime}, which the runtime mounts for the container itself`;
  return undefined;
}

/**
 * Characters that make text display differently from what it is: C0 and C1 controls other than tab
 * and newline (a NUL also truncates arguments and paths), and bidirectional overrides and isolates.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const HIDDEN_CHARACTER = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const LINE_BREAK = /[\t\n]/;

/**
 * The only fields that may hold several lines (or tabs): free text, environment values, export
 * values and command arguments. Everywhere else (paths, names, labels) a line break could inject a
 * line into a generated unit file, such as `PodmanArgs=--privileged` after a volume path.
 */
function mayBreakLines(path: readonly PathSegment[]): boolean {
  const [first, , third, , fifth] = path;
  if (path.length === 1) return first === "description";
  if (first === "containers")
    return (
      third === "environment" ||
      third === "command" ||
      third === "entrypoint" ||
      (third === "health" && path[3] === "command")
    );
  if (first === "exports") return path[2] === "value";
  if (first === "hooks" || first === "consumers") return path[3] === "exec" && fifth === "command";
  return false;
}

/** Every string of the manifest (keys and values) is free of hidden characters, and one line unless it may not be. */
function checkText(value: unknown, path: PathSegment[], findings: Finding[]): void {
  const check = (text: string, at: PathSegment[], where: "key" | "value") => {
    const hidden = HIDDEN_CHARACTER.exec(text);
    const lineBreak = where === "key" || !mayBreakLines(at) ? LINE_BREAK.exec(text) : null;
    const match = hidden ?? lineBreak;
    if (!match) return;
    const code = `U+${(match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    const what = where === "key" ? "key" : "text";
    findings.push(
      hidden
        ? {
            path: at,
            message: `the ${what} contains the invisible character ${code}, which can hide what it really says`,
            fix: "remove the character: write plain text",
            rule: "security.text",
            at: where,
          }
        : {
            path: at,
            message: `the ${what} contains a line break or tab (${code}), which this field cannot hold`,
            fix: "write the value on one line, without tabs",
            rule: "security.text",
            at: where,
          },
    );
  };
  if (typeof value === "string") check(value, path, "value");
  else if (Array.isArray(value))
    for (const [index, item] of value.entries()) checkText(item, [...path, index], findings);
  else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) {
      check(key, [...path, key], "key");
      checkText(item, [...path, key], findings);
    }
}

type PermissionOf<K extends PermissionSpec["kind"]> = Extract<PermissionSpec, { kind: K }>;

function permissionOfKind<K extends PermissionSpec["kind"]>(
  manifest: Manifest,
  name: string,
  kind: K,
): PermissionOf<K> | undefined {
  const permission = manifest.permissions[name];
  return permission?.kind === kind ? (permission as PermissionOf<K>) : undefined;
}

export function checkSecurity(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const add = (path: PathSegment[], message: string, fix: string, rule: string) =>
    findings.push({ path, message, fix, rule });
  const permissionNames = Object.keys(manifest.permissions);
  checkText(manifest, [], findings);

  for (const [name, permission] of Object.entries(manifest.permissions)) {
    const at: PathSegment[] = ["permissions", name];
    if (permission.kind === "host-path") {
      const why = hostPathProblem(permission.path);
      if (why)
        add(
          [...at, "path"],
          `host path ${permission.path} can never be granted: ${why}`,
          HOST_PATH_FIX,
          "security.host-path",
        );
    } else if (permission.kind === "device") {
      if (!isCanonicalAbsolute(permission.path) || !permission.path.startsWith("/dev/"))
        add(
          [...at, "path"],
          `device ${permission.path} is not a canonical path under /dev/`,
          "name the device node, e.g. /dev/ttyUSB0",
          "security.device",
        );
      else if (FORBIDDEN_DEVICES.some((d) => isUnder(permission.path, d)))
        add(
          [...at, "path"],
          `device ${permission.path} can never be granted: it gives access to the host's memory, kernel or network plumbing`,
          "remove this permission",
          "security.device",
        );
    } else if (permission.kind === "capability") {
      const cap = permission.capability;
      if (!ALL_CAPABILITIES.includes(cap)) {
        const guess = closest(cap.replace(/^CAP_/, ""), ALL_CAPABILITIES);
        add(
          [...at, "capability"],
          `unknown capability ${JSON.stringify(cap)}`,
          guess ? `did you mean ${guess}?` : "use a Linux capability name without the CAP_ prefix",
          "security.capability",
        );
      } else if (!(ELEVATED_CAPABILITIES as readonly string[]).includes(cap)) {
        add(
          [...at, "capability"],
          `${cap} needs no permission`,
          `remove this permission and list ${cap} under the container's capabilities`,
          "security.capability",
        );
      }
    }
  }

  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    for (const [index, cap] of container.capabilities.entries()) {
      const path = [...at, "capabilities", index];
      if (!ALL_CAPABILITIES.includes(cap)) {
        const guess = closest(cap.replace(/^CAP_/, ""), ALL_CAPABILITIES);
        add(
          path,
          `unknown capability ${JSON.stringify(cap)}`,
          guess
            ? `did you mean ${guess}?`
            : "use a Linux capability name without the CAP_ prefix, e.g. CHOWN",
          "security.capability",
        );
      } else if ((ELEVATED_CAPABILITIES as readonly string[]).includes(cap)) {
        const granted = Object.values(manifest.permissions).some(
          (p) => p.kind === "capability" && p.capability === cap,
        );
        if (!granted)
          add(
            path,
            `${cap} is an elevated capability and needs a named permission`,
            `add under permissions: { <name>: { kind: capability, capability: ${cap}, reason: "…" } }`,
            "security.capability",
          );
      }
    }

    for (const { what, mountPath, path, example } of mountPoints(container, at)) {
      const why = forbiddenMountPath(mountPath, what);
      if (why)
        add(
          path,
          `${what} ${mountPath} ${why}`,
          `mount it at a directory of its own, such as ${example}`,
          "security.path",
        );
    }

    for (const [index, volume] of container.volumes.entries()) {
      const path = [...at, "volumes", index];
      if ((volume.name === undefined) === (volume.host_path === undefined)) {
        add(
          path,
          "a volume needs exactly one of `name` (an app volume) or `host_path`",
          "use `name: data` for app data; `host_path` only with a host-path permission",
          "security.volume",
        );
        continue;
      }
      if (volume.host_path === undefined) {
        if (volume.permission !== undefined)
          add(
            [...path, "permission"],
            "`permission` applies only to a `host_path` volume",
            "remove `permission`",
            "security.volume",
          );
        continue;
      }
      const why = hostPathProblem(volume.host_path);
      if (why) {
        add(
          [...path, "host_path"],
          `host path ${volume.host_path} can never be mounted: ${why}`,
          "store app data in an app volume (`name:`) instead",
          "security.host-path",
        );
        continue;
      }
      if (volume.permission === undefined) {
        add(
          [...path, "host_path"],
          `host path ${volume.host_path} is outside the app's data directory and has no permission`,
          "add `permission: <name>` naming a host-path permission the operator approves, or use an app volume (`name:`)",
          "security.host-path",
        );
        continue;
      }
      const permission = permissionOfKind(manifest, volume.permission, "host-path");
      if (!permission) {
        const guess = closest(volume.permission, permissionNames);
        add(
          [...path, "permission"],
          `no host-path permission named ${JSON.stringify(volume.permission)}`,
          guess ? `did you mean ${guess}?` : "declare it under `permissions` with kind: host-path",
          "ref.permission",
        );
      } else if (!isUnder(volume.host_path, permission.path)) {
        add(
          [...path, "host_path"],
          `host path ${volume.host_path} is not inside ${permission.path}, the path permission ${volume.permission} grants`,
          `mount ${permission.path} or a directory under it`,
          "security.host-path",
        );
      }
    }

    for (const [index, device] of container.devices.entries()) {
      const path = [...at, "devices", index, "permission"];
      if (!permissionOfKind(manifest, device.permission, "device")) {
        const guess = closest(device.permission, permissionNames);
        add(
          path,
          `no device permission named ${JSON.stringify(device.permission)}`,
          guess ? `did you mean ${guess}?` : "declare it under `permissions` with kind: device",
          "ref.permission",
        );
      }
    }

    for (const [index, port] of container.ports.entries()) {
      if (port.host !== undefined && port.host < 1024) {
        const granted = Object.values(manifest.permissions).some(
          (p) => p.kind === "low-port" && p.port === port.host,
        );
        if (!granted)
          add(
            [...at, "ports", index, "host"],
            `host port ${port.host} is below 1024 and needs a low-port permission`,
            `use a port of 1024 or more, or add permissions: { <name>: { kind: low-port, port: ${port.host}, reason: "…" } }`,
            "security.low-port",
          );
      }
    }
  }

  for (const [volume, path] of Object.entries(manifest.adoption.data_paths)) {
    const why = legacyDataPathProblem(path);
    if (why)
      add(
        ["adoption", "data_paths", volume],
        `legacy data path ${path} cannot be taken over: ${why}`,
        LEGACY_DATA_FIX,
        isCanonicalAbsolute(path) ? "security.host-path" : "security.path",
      );
  }

  for (const [hook, steps] of Object.entries(manifest.hooks)) {
    for (const [index, step] of steps.entries()) {
      if (!("copy_from_host" in step)) continue;
      const copy = step.copy_from_host;
      const path: PathSegment[] = ["hooks", hook, index, "copy_from_host"];
      const segments = copy.from.split("/");
      if (
        copy.from.startsWith("/") ||
        segments.some((s) => s === ".." || s === "") ||
        copy.from.includes("\0")
      )
        add(
          [...path, "from"],
          `copy source ${JSON.stringify(copy.from)} must be a relative path without \`..\` or empty segments`,
          "name a file inside the app directory, e.g. files/config.json",
          "security.path",
        );
      if (copy.root !== undefined && !permissionOfKind(manifest, copy.root, "host-path"))
        add(
          [...path, "root"],
          `no host-path permission named ${JSON.stringify(copy.root)}`,
          "declare it under `permissions` with kind: host-path, or omit `root` to copy from the app directory",
          "ref.permission",
        );
      if (!isCanonicalAbsolute(copy.to) || copy.to === "/")
        add(
          [...path, "to"],
          `copy target ${copy.to} must be a canonical absolute path other than /`,
          "name a file path inside the container",
          "security.path",
        );
    }
  }

  if (manifest.icon !== undefined && !/^https:\/\//.test(manifest.icon)) {
    const segments = manifest.icon.split("/");
    if (manifest.icon.startsWith("/") || segments.some((s) => s === ".." || s === ""))
      add(
        ["icon"],
        `icon ${JSON.stringify(manifest.icon)} must be a relative file in the app directory or an https URL`,
        "e.g. icon: icon.svg",
        "security.path",
      );
  }
  for (const [name, url] of Object.entries(manifest.links)) {
    if (url !== undefined && !/^https?:\/\//i.test(url))
      add(
        ["links", name],
        `link ${JSON.stringify(url)} is not an http or https URL`,
        "link to a web page, e.g. https://example.org",
        "security.url",
      );
  }
  return findings;
}
