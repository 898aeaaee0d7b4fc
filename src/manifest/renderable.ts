/**
 * What every backend can carry. A value of the manifest reaches a unit file (Quadlet), a Podman
 * argument or a Kubernetes object, and must arrive there whole and meaning what it says. The
 * renderers escape what has a legitimate use (quotes, spaces, `%`, `$`, `;` and line breaks in
 * arguments and environment values); this refuses, naming the field, what no escaping can carry:
 *
 * - paths with characters that Podman's option syntax reads as separators (`:` in `-v`, `--tmpfs`
 *   and `--device`, `,` in `--secret`) or that Quadlet and systemd split or unescape (blanks,
 *   quotes, backslashes): between its slashes a path holds letters, digits and `. _ - + @ ~`;
 * - user and group ids outside the rootless user namespace (0 to 65535);
 * - arguments longer than Linux passes to a program;
 * - numbers beyond what Podman and Kubernetes store (memory limits, health check durations);
 * - health commands that Podman's `--health-cmd` (the Quadlet backend) would split differently;
 * - an empty program name.
 *
 * Pure: a manifest in, findings out.
 */

import { environmentTemplates } from "./interpolation.ts";
import { type Finding, formatPath, type PathSegment } from "./issues.ts";
import { CURRENT_NAMING, renderedSecretName, secretName } from "./naming.ts";
import type { Manifest } from "./schema.ts";
import { mountPoints } from "./security.ts";

/** The largest user or group id: a rootless container's user namespace maps 65,536 ids. */
export const MAX_ID = 65535;
/** The largest memory limit (1 TiB): more is a mistake, and beyond it numbers lose precision. */
const MAX_MEMORY_BYTES = 1024 ** 4;
/** The longest health check interval, timeout or start period: a day. */
const MAX_HEALTH_DURATION_MS = 24 * 60 * 60 * 1000;
/**
 * The longest environment value or command word (UTF-8 bytes). Each becomes one argument of
 * `podman run` and, in the container, one argument or variable of a program: Linux takes at most
 * 128 KiB for each, and escaping for a unit file can double a value's length.
 */
const MAX_ARGUMENT_BYTES = 32 * 1024;
/** The longest entrypoint or health command as a whole: each is one JSON argument of `podman run`. */
const MAX_LIST_BYTES = 64 * 1024;

/** The longest name of a Podman secret. */
const MAX_SECRET_NAME = 64;

/** A character a path may hold: letters and digits of any script, `. _ - + @ ~`, and `/`. */
const PATH_CHARACTER = /^[\p{L}\p{M}\p{N}._\-+@~/]$/u;

/** Words Podman's `--health-cmd` reads as a kind of check rather than as the program. */
const HEALTH_KEYWORDS = ["CMD", "CMD-SHELL", "NONE"];
/** Blanks as Go's unicode.IsSpace knows them: where Podman splits a `--health-cmd` given as words. */
const GO_BLANK = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * How a health command reaches Podman's `--health-cmd`: as a JSON list when it has two words or
 * more and the first is not a keyword (Podman takes the list as it is), else as `CMD` and the words
 * joined by spaces (Podman would read a one-word list as a shell command, and a list starting with
 * a keyword as that kind of check).
 */
export function healthCommandForm(command: readonly string[]): "list" | "words" {
  return command.length > 1 && !HEALTH_KEYWORDS.includes((command[0] ?? "").toUpperCase()) ? "list" : "words";
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** What is wrong with a path's characters, as the end of a sentence, or undefined when nothing is. */
export function pathProblem(path: string): string | undefined {
  const char = [...path].find((c) => !PATH_CHARACTER.test(c));
  if (char === undefined) return undefined;
  if (char === ":") return "holds ':', which Podman reads as the start of the mount's or device's options";
  if (char === ",")
    return "holds ',', which Podman reads as the start of the secret's or mount's next option";
  if (/\s/u.test(char))
    return `holds ${char === " " ? "a space" : `the blank ${codePoint(char)}`}, where Quadlet and systemd split values`;
  const shown = /[\p{C}\p{Z}]/u.test(char) ? `the character ${codePoint(char)}` : `'${char}'`;
  return `holds ${shown}, which Podman's options or systemd units give a meaning of their own`;
}

function checkPath(
  findings: Finding[],
  path: PathSegment[],
  what: string,
  value: string,
  example: string,
  rule: string,
): void {
  const problem = pathProblem(value);
  if (problem)
    findings.push({
      path,
      message: `${what} ${JSON.stringify(value)} ${problem}`,
      fix: `use only letters, digits and . _ - + @ ~ between the slashes, such as ${example}`,
      rule,
    });
}

function checkPaths(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [name, permission] of Object.entries(manifest.permissions)) {
    if (permission.kind === "host-path")
      checkPath(
        findings,
        ["permissions", name, "path"],
        "host path",
        permission.path,
        "/srv/media",
        "security.host-path",
      );
    if (permission.kind === "device")
      checkPath(
        findings,
        ["permissions", name, "path"],
        "device",
        permission.path,
        "/dev/ttyUSB0",
        "security.device",
      );
  }
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    for (const { what, mountPath, path, example } of mountPoints(container, at))
      checkPath(findings, path, what, mountPath, example, "security.path");
    if (container.working_dir !== undefined)
      checkPath(
        findings,
        [...at, "working_dir"],
        "working directory",
        container.working_dir,
        "/app",
        "security.path",
      );
    for (const [index, volume] of container.volumes.entries())
      if (volume.host_path !== undefined)
        checkPath(
          findings,
          [...at, "volumes", index, "host_path"],
          "host path",
          volume.host_path,
          "/srv/media",
          "security.host-path",
        );
    for (const [index, device] of container.devices.entries())
      if (device.path !== undefined)
        checkPath(
          findings,
          [...at, "devices", index, "path"],
          "device path",
          device.path,
          "/dev/ttyUSB0",
          "security.device",
        );
  }
  return findings;
}

function checkIds(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    if (container.user === undefined) continue;
    const ids = container.user.split(":").map(Number);
    if (ids.some((id) => id > MAX_ID))
      findings.push({
        path: ["containers", key, "user"],
        message: `${container.user} is out of range: a rootless container's user namespace has the ids 0 to ${MAX_ID}`,
        fix: `use a uid (and gid) between 0 and ${MAX_ID}, such as 1000`,
        rule: "limits.user",
      });
  }
  return findings;
}

function checkNumbers(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    if (container.memory !== undefined && container.memory > MAX_MEMORY_BYTES)
      findings.push({
        path: [...at, "memory"],
        message: "a memory limit above 1024g (1 TiB) is more than a node has",
        fix: "use at most 1024g, or remove `memory` for no limit",
        rule: "limits.memory",
      });
    const health = container.health;
    if (!health) continue;
    for (const [field, name] of [
      ["interval", "an interval"],
      ["timeout", "a timeout"],
      ["start_period", "a start period"],
    ] as const)
      if (health[field] > MAX_HEALTH_DURATION_MS)
        findings.push({
          path: [...at, "health", field],
          message: `${name} longer than a day (24h) is beyond what a health check can mean`,
          fix: "use at most 24h",
          rule: "health.timing",
        });
  }
  return findings;
}

type Command = {
  path: PathSegment[];
  command: string[];
  /** Passed to `podman run` as one JSON argument (an entrypoint, a health command). */
  oneArgument: boolean;
};

/** Every command of the manifest (entrypoints, commands, health and hook commands) with its path. */
function commands(manifest: Manifest): Command[] {
  const found: Command[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    if (container.entrypoint)
      found.push({ path: [...at, "entrypoint"], command: container.entrypoint, oneArgument: true });
    if (container.command)
      found.push({ path: [...at, "command"], command: container.command, oneArgument: false });
    if (container.health?.type === "exec")
      found.push({
        path: [...at, "health", "command"],
        command: container.health.command,
        oneArgument: true,
      });
  }
  for (const [hook, steps] of Object.entries(manifest.hooks))
    for (const [index, step] of steps.entries())
      if ("exec" in step)
        found.push({
          path: ["hooks", hook, index, "exec", "command"],
          command: step.exec.command,
          oneArgument: false,
        });
  return found;
}

function tooLong(path: PathSegment[], bytes: number, limit: number, what: string): Finding {
  return {
    path,
    message: `${what} is ${Math.ceil(bytes / 1024)} KiB: it reaches the container as an argument of \`podman run\`, which Linux caps at 128 KiB once escaped`,
    fix: `keep it under ${limit / 1024} KiB; pass larger data as a file (a volume, or copy_from_host)`,
    rule: "limits.argument",
  };
}

function checkArguments(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const bytes = (text: string) => Buffer.byteLength(text, "utf8");
  for (const { path, command, oneArgument } of commands(manifest)) {
    if (command[0] === "")
      findings.push({
        path: [...path, 0],
        message: "the program to run is empty",
        fix: "name the program, such as /bin/sh or /usr/local/bin/server",
        rule: "schema.value",
      });
    for (const [index, word] of command.entries())
      if (bytes(word) > MAX_ARGUMENT_BYTES)
        findings.push(tooLong([...path, index], bytes(word), MAX_ARGUMENT_BYTES, "this argument"));
    const whole = bytes(JSON.stringify(command));
    if (oneArgument && whole > MAX_LIST_BYTES)
      findings.push(tooLong(path, whole, MAX_LIST_BYTES, "the command as a whole"));
  }
  const values: Array<[PathSegment[], unknown]> = [
    ...Object.entries(manifest.containers).flatMap(([key, container]) =>
      Object.entries(container.environment).map(([name, value]): [PathSegment[], unknown] => [
        ["containers", key, "environment", name],
        value,
      ]),
    ),
    ...Object.entries(manifest.exports).map(([name, value]): [PathSegment[], unknown] => [
      ["exports", name, "value"],
      "value" in value ? value.value : undefined,
    ]),
  ];
  for (const [path, value] of values)
    if (typeof value === "string" && bytes(value) > MAX_ARGUMENT_BYTES)
      findings.push(tooLong(path, bytes(value), MAX_ARGUMENT_BYTES, "the value"));
  return findings;
}

/**
 * A health command given to Podman as words (see healthCommandForm) arrives whole only if no word
 * is empty or holds a blank, and the last does not end in `"` (Quadlet strips it).
 */
function checkHealthCommands(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    const health = container.health;
    if (health?.type !== "exec" || healthCommandForm(health.command) === "list") continue;
    const index = health.command.findIndex(
      (word, i) =>
        word === "" || GO_BLANK.test(word) || (i === health.command.length - 1 && word.endsWith('"')),
    );
    if (index < 0) continue;
    const one = health.command.length === 1;
    findings.push({
      path: ["containers", key, "health", "command", index],
      message: one
        ? `a health command of one word is passed to Podman as words, and ${JSON.stringify(health.command[0])} would not arrive as one`
        : `a health command starting with ${JSON.stringify(health.command[0])} is passed to Podman as words, and ${JSON.stringify(health.command[index])} would not arrive as one`,
      fix: one
        ? 'give the program and each argument as a word of the list, such as [pg_isready, -U, app], or run a shell: [/bin/sh, -c, "…"]'
        : 'run it through a shell, such as [/bin/sh, -c, "…"], or remove the blanks and empty words',
      rule: "health.command",
    });
  }
  return findings;
}

/** The names the platform gives the app's resources fit Podman's limits (a secret's: 64 characters). */
function checkNames(manifest: Manifest): Finding[] {
  // A value with a secret in it is rendered into a Podman secret `archy-<app>_env.<8 hex>`.
  const rendered = renderedSecretName(manifest.id, "", "", "");
  // So is a consumer value mounted as a file (model.ts).
  const templated =
    environmentTemplates(manifest).find(
      ({ parsed }) =>
        !("message" in parsed) &&
        parsed.some((p) => p.kind === "secret" || p.kind === "export" || p.kind === "consumer"),
    ) ??
    Object.entries(manifest.containers)
      .flatMap(([key, c]) =>
        c.secrets.flatMap((file, index) =>
          "consumer" in file ? [{ path: ["containers", key, "secrets", index] as PathSegment[] }] : [],
        ),
      )
      .at(0);
  const renderedFinding: Finding[] =
    templated && rendered.length > MAX_SECRET_NAME
      ? [
          {
            path: templated.path,
            message: `a value with a reference is stored in a Podman secret named like ${rendered}, ${rendered.length} characters, and Podman takes at most ${MAX_SECRET_NAME}`,
            fix: `shorten the app's id to at most ${manifest.id.length - (rendered.length - MAX_SECRET_NAME)} characters, or pass the secret as { secret: NAME } or as a file`,
            rule: "limits.name",
          },
        ]
      : [];
  return renderedFinding.concat(
    Object.keys(manifest.secrets).flatMap((name): Finding[] => {
      const podman = secretName(manifest.id, name, CURRENT_NAMING);
      if (podman.length <= MAX_SECRET_NAME) return [];
      const room = MAX_SECRET_NAME - (podman.length - name.length);
      return [
        {
          path: ["secrets", name],
          message: `its Podman secret would be named ${podman}, ${podman.length} characters, and Podman takes at most ${MAX_SECRET_NAME}`,
          fix:
            room > 0
              ? `shorten the secret's name to at most ${room} characters`
              : "shorten the app's id: with it, no secret name fits",
          rule: "limits.name",
          at: "key",
        },
      ];
    }),
  );
}

/**
 * A device appears at a path of its own: not where a volume, a secret or a tmpfs is mounted, nor
 * where another device is (Podman takes both and one hides the other; a Kubernetes pod takes neither).
 */
function checkDevicePaths(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    const taken = new Map(mountPoints(container, at).map((m) => [m.mountPath, m.path]));
    for (const [index, device] of container.devices.entries()) {
      const permission = manifest.permissions[device.permission];
      const path = device.path ?? (permission?.kind === "device" ? permission.path : undefined);
      if (path === undefined) continue;
      const first = taken.get(path);
      if (first)
        findings.push({
          path: [...at, "devices", index, device.path === undefined ? "permission" : "path"],
          message: `the device would appear at ${path}, where ${formatPath(first)} is mounted too`,
          fix: "give the device a path of its own in the container (`path:`)",
          rule: "clash.mount",
        });
      else taken.set(path, [...at, "devices", index]);
    }
  }
  return findings;
}

export function checkRenderable(manifest: Manifest): Finding[] {
  return [
    ...checkNames(manifest),
    ...checkDevicePaths(manifest),
    ...checkPaths(manifest),
    ...checkIds(manifest),
    ...checkNumbers(manifest),
    ...checkArguments(manifest),
    ...checkHealthCommands(manifest),
  ];
}
