/**
 * One compose service as one manifest container: image, program, environment (generated secrets
 * where the compose file asked for one), user, capabilities (Docker's default set, less what needs
 * a permission), limits, health check and the order of start. Mounts and ports are
 * convert-storage.ts's and convert-network.ts's. Pure.
 */

import { pathProblem } from "../manifest/renderable.ts";
import {
  ALL_CAPABILITIES,
  type DependsCondition,
  ELEVATED_CAPABILITIES,
  MIN_MEMORY_BYTES,
  memorySize,
  SAFE_CAPABILITIES,
  SIGNALS,
} from "../manifest/schema.ts";
import { type Conversion, toLabel } from "./convert-context.ts";
import { convertProcessLimits } from "./convert-limits.ts";
import { convertNetwork, convertPorts, type PortOut } from "./convert-network.ts";
import { convertMounts, type Mounts } from "./convert-storage.ts";
import type { ProjectService } from "./project.ts";
import { SERVICE_KEY_HANDLING } from "./service-keys.ts";
import { splitShellWords } from "./shell-words.ts";
import { composeBool, type HealthcheckSpec } from "./spec.ts";
import { durationMs, sizeBytes } from "./units.ts";
import { APP_DATA_MARKER, APP_UID, hasMarker, MARKER, PLATFORM_VARIABLES, secretName } from "./variables.ts";

export type EnvValue = string | { secret: string };
export type Health = {
  type: "exec";
  command: string[];
  interval: number;
  timeout: number;
  retries: number;
  start_period: number;
};

export type Container = {
  image: string;
  entrypoint?: string[];
  command?: string[];
  working_dir?: string;
  environment: Record<string, EnvValue>;
  env_file?: string[];
  ports: PortOut[];
  volumes: Mounts["volumes"];
  devices: Mounts["devices"];
  user?: string;
  data_uid?: number;
  capabilities: string[];
  read_only?: boolean;
  tmpfs: string[];
  memory?: string;
  shm_size?: number | string;
  ulimits?: Record<string, number | { soft: number; hard: number }>;
  stop_timeout?: number;
  stop_signal?: string;
  aliases: string[];
  depends_on: Record<string, DependsCondition>;
  health?: Health;
  job?: boolean;
};

/** Literal values of secret-like variables that become generated secrets (value → secret name). */
export type LiteralSecrets = Map<string, string>;

const MAX_STOP_TIMEOUT_S = 600;

export function convertService(
  conversion: Conversion,
  service: ProjectService,
  keyOf: Map<string, string>,
  literalSecrets: LiteralSecrets,
  metadataVolumes: Map<string, string>,
): Container {
  const { spec } = service;
  const note = conversion.note.bind(conversion);

  for (const key of Object.keys(spec)) {
    const handling = SERVICE_KEY_HANDLING[key];
    if (handling === undefined || handling === "converted") continue;
    note(handling.level, service, [key], handling.message, handling.action);
  }

  const { hostNetwork, aliases } = convertNetwork(conversion, service);
  const mounts = convertMounts(conversion, service, metadataVolumes);
  const container: Container = {
    image: image(conversion, service),
    environment: environment(conversion, service, literalSecrets),
    ports: convertPorts(conversion, service, hostNetwork),
    volumes: mounts.volumes,
    devices: mounts.devices,
    capabilities: capabilities(conversion, service),
    tmpfs: mounts.tmpfs,
    aliases: [],
    depends_on: {},
  };
  const entrypoint = program(conversion, service, "entrypoint");
  if (entrypoint) container.entrypoint = entrypoint;
  const command = program(conversion, service, "command");
  if (command) container.command = command;

  if (spec.working_dir !== undefined) {
    if (spec.working_dir.startsWith("/") && !hasMarker(spec.working_dir) && !pathProblem(spec.working_dir))
      container.working_dir = spec.working_dir;
    else
      note(
        "decide",
        service,
        ["working_dir"],
        `not carried over: ${conversion.restore(spec.working_dir)} is not an absolute path of letters, digits and . _ - + @ ~`,
        "write the absolute path",
      );
  }
  user(conversion, service, container);
  if (composeBool(spec.read_only)) container.read_only = true;
  if (composeBool(spec.privileged))
    note(
      "decide",
      service,
      ["privileged"],
      "not carried over: privileged containers are never allowed",
      "find what the app needs it for and declare that alone: a device (`devices`), a capability (`cap_add`), a host path",
    );

  const limit = spec.deploy?.resources?.limits?.memory ?? spec.mem_limit;
  if (limit !== undefined) {
    const bytes = sizeBytes(limit);
    const sub =
      spec.deploy?.resources?.limits?.memory !== undefined
        ? ["deploy", "resources", "limits", "memory"]
        : ["mem_limit"];
    if (bytes === undefined)
      note(
        "decide",
        service,
        sub,
        `not carried over: ${limit} is not a size`,
        "write the limit as 512m or 2g",
      );
    else if (bytes < MIN_MEMORY_BYTES) {
      container.memory = memorySize(MIN_MEMORY_BYTES);
      note(
        "info",
        service,
        sub,
        `the memory limit ${limit} is below the smallest a container starts with: ${container.memory}`,
      );
    } else container.memory = memorySize(Math.ceil(bytes / 1024 / 1024) * 1024 * 1024);
  }
  Object.assign(container, convertProcessLimits(conversion, service));
  // A sized /dev/shm is that size: a tmpfs of its own there too would be a second mount.
  if (container.shm_size !== undefined)
    container.tmpfs = container.tmpfs.filter((path) => path !== "/dev/shm");
  const deploy = spec.deploy ?? {};
  if (deploy.resources?.reservations)
    note(
      "info",
      service,
      ["deploy", "resources", "reservations"],
      "not carried over: the platform reserves nothing (memory limits only)",
    );
  if (deploy.resources?.limits?.cpus !== undefined || deploy.resources?.limits?.pids !== undefined)
    note(
      "info",
      service,
      ["deploy", "resources", "limits"],
      "CPU and process limits are not carried over: the platform sets a memory limit only",
    );
  for (const key of Object.keys(deploy).filter((k) => k !== "resources"))
    note(
      key === "replicas" && Number(deploy.replicas) > 1 ? "decide" : "info",
      service,
      ["deploy", key],
      key === "replicas"
        ? "not carried over: an app runs one container per key"
        : "not carried over: a Swarm deployment setting",
    );

  if (spec.stop_grace_period !== undefined) {
    const ms = durationMs(spec.stop_grace_period);
    if (ms === undefined)
      note(
        "decide",
        service,
        ["stop_grace_period"],
        `not carried over: ${spec.stop_grace_period} is not a duration`,
        "write it as 30s or 2m",
      );
    else {
      const seconds = Math.min(Math.max(ms / 1000, 1), MAX_STOP_TIMEOUT_S);
      if (seconds * 1000 !== ms)
        note(
          "info",
          service,
          ["stop_grace_period"],
          `stop_timeout is ${seconds}s: it is at least 1s and at most 10m`,
        );
      container.stop_timeout = seconds;
    }
  }
  if (spec.stop_signal !== undefined) {
    const signal = stopSignal(spec.stop_signal);
    if (signal === undefined)
      note(
        "decide",
        service,
        ["stop_signal"],
        `not carried over: ${spec.stop_signal} is not a signal a program can catch`,
        "name a signal such as SIGTERM or SIGINT (never SIGKILL or SIGSTOP)",
      );
    else container.stop_signal = signal;
  }

  const names = new Set([...aliases, ...(spec.container_name ? [spec.container_name] : [])]);
  const key = keyOf.get(service.name) as string;
  for (const alias of names) {
    const label = alias.toLowerCase();
    if (label === key || [...keyOf.values()].includes(label)) continue;
    if (/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) container.aliases.push(label);
    else if (referencedElsewhere(conversion, service, alias))
      note(
        "decide",
        service,
        [spec.container_name === alias ? "container_name" : "networks"],
        `other containers reach this one as ${alias}, which cannot be a name on the app network (not a DNS label)`,
        `replace ${alias} by \`${key}\` where the other containers name it`,
      );
  }
  if (spec.container_name !== undefined)
    note(
      "info",
      service,
      ["container_name"],
      `the container is named by the platform${container.aliases.includes(spec.container_name.toLowerCase()) ? `; ${spec.container_name} stays a name on the app network` : ""}`,
    );

  const health = healthcheck(conversion, service, spec.healthcheck);
  if (health) container.health = health;
  return container;
}

/** The image, with Docker's default registry written out (Podman asks which registry otherwise). */
function image(conversion: Conversion, service: ProjectService): string {
  const written = service.spec.image;
  if (written === undefined || written.trim() === "") {
    const local = `localhost/${toLabel(conversion.appId)}-${toLabel(service.name)}:latest`;
    conversion.note(
      "decide",
      service,
      [service.spec.build !== undefined ? "build" : "image"],
      `no image: the platform runs images, it does not build them; the manifest names ${local}`,
      `build it on the node (podman build -t ${local} <context>) or push it to a registry and name it in \`image\``,
    );
    return local;
  }
  if (service.spec.build !== undefined)
    conversion.note(
      "info",
      service,
      ["build"],
      "not carried over: the platform runs the image named in `image`",
    );
  if (hasMarker(written)) {
    conversion.note(
      "decide",
      service,
      ["image"],
      `the image ${conversion.restore(written)} depends on a variable the platform cannot fill`,
      "write the image's name",
    );
    return conversion.restore(written);
  }
  return qualifiedImage(written.trim());
}

/** `redis:7` → `docker.io/library/redis:7`, `user/app` → `docker.io/user/app`: what Docker pulls. */
export function qualifiedImage(reference: string): string {
  const [first, ...rest] = reference.split("/");
  if (rest.length > 0 && (/[.:]/.test(first as string) || first === "localhost")) return reference;
  return rest.length === 0 ? `docker.io/library/${reference}` : `docker.io/${reference}`;
}

function program(
  conversion: Conversion,
  service: ProjectService,
  key: "command" | "entrypoint",
): string[] | undefined {
  const value = service.spec[key];
  if (value === undefined || value === null) return undefined;
  let words: string[];
  if (typeof value === "string") {
    const split = splitShellWords(value);
    if (!split.ok) {
      conversion.note(
        "decide",
        service,
        [key],
        `not carried over: ${split.error}`,
        "write it as a list of words",
      );
      return undefined;
    }
    words = split.words;
  } else words = value;
  if (words.length === 0) {
    conversion.note(
      key === "entrypoint" ? "decide" : "info",
      service,
      [key],
      `an empty ${key} is not carried over: the image's own ${key} runs`,
      key === "entrypoint"
        ? `write the program to run as \`command\`, with the image's entrypoint replaced by its first word`
        : undefined,
    );
    return undefined;
  }
  if (words.some(hasMarker))
    conversion.note(
      "decide",
      service,
      [key],
      `the ${key} uses ${describeMarkers(conversion, words.join(" "))}, which the platform cannot put inside a command (no variable is expanded in a command)`,
      "pass the value in `environment` and read it from there (for a shell: `sh -c '… \"$NAME\"'`)",
    );
  return words.map((w) => conversion.restore(w));
}

function describeMarkers(conversion: Conversion, text: string): string {
  return [...new Set(text.match(MARKER) ?? [])].map((m) => conversion.restore(m)).join(", ");
}

function environment(
  conversion: Conversion,
  service: ProjectService,
  literalSecrets: LiteralSecrets,
): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {};
  for (const [name, entry] of service.environment) {
    const sub = entry.from === "env_file" ? ["env_file"] : ["environment", name];
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      conversion.note(
        "decide",
        service,
        sub,
        `not carried over: ${name} is not a valid environment variable name here`,
        "rename it: letters, digits and _",
      );
      continue;
    }
    if (entry.value === null) {
      conversion.note(
        "decide",
        service,
        sub,
        `not carried over: ${name} takes its value from the environment of whoever runs Compose, which an app does not have`,
        `give it a value (${name}: …), or remove it`,
      );
      continue;
    }
    const value = entry.value;
    const whole = /^\uE000secret:([a-z0-9-]+)\uE001$/.exec(value);
    if (whole) {
      conversion.secrets.set(whole[1] as string, { type: "alphanumeric", length: 32 });
      out[name] = { secret: whole[1] as string };
      continue;
    }
    if (hasMarker(value) && !value.includes(APP_DATA_MARKER)) {
      // Generated secrets inside a value: references the daemon renders (manifest interpolation).
      const names: string[] = [];
      out[name] = literalValue(value).replace(MARKER, (_, marker: string) => {
        const secret = marker.slice("secret:".length);
        conversion.secrets.set(secret, { type: "alphanumeric", length: 32 });
        names.push(secret);
        return `\${secret:${secret}}`;
      });
      conversion.note(
        "info",
        service,
        sub,
        `${name} is ${conversion.restore(value)}: written ${out[name]}, the node renders it with the generated ${[...new Set(names)].join(", ")} in it`,
      );
      continue;
    }
    if (hasMarker(value)) {
      conversion.note(
        "decide",
        service,
        sub,
        `${name} is ${conversion.restore(value)}: ${describeMarkers(conversion, value)} cannot stand inside a value (a value is a literal or a whole secret)`,
        "write the path inside the container where the app volume is mounted",
      );
      out[name] = literalValue(conversion.restore(value));
      continue;
    }
    if (isPassword(name, value)) {
      const secret = literalSecrets.get(value);
      if (secret) {
        conversion.secrets.set(secret, { type: "alphanumeric", length: 32 });
        conversion.note(
          "info",
          service,
          sub,
          `the fixed value of ${name}, a password every install shared, became the generated secret \`${secret}\``,
          "a literal value in the manifest brings the fixed one back",
        );
        out[name] = { secret };
        continue;
      }
      conversion.note(
        "review",
        service,
        sub,
        `${name} keeps the fixed password written in the compose file: every install of the app shares it (it is also part of another value, a command or a check of the file, which would no longer match a generated one)`,
        "declare a generated secret and use it wherever the password is written, or have the app's users change it",
      );
    }
    out[name] = literalValue(value);
  }
  return out;
}

/** Text as a manifest's environment value: a `${` in it is literal (`$${`), never a reference. */
function literalValue(text: string): string {
  return text.replaceAll("${", () => "$${");
}

function user(conversion: Conversion, service: ProjectService, container: Container): void {
  const written = service.spec.user;
  const uidVariables = PLATFORM_VARIABLES.find((v) => v.names.includes("PUID"))?.names ?? [];
  const usesAppUid =
    service.spec.user === undefined &&
    conversion.project.references.some(
      (r) => r.path.startsWith(`services.${service.name}.`) && uidVariables.includes(r.name),
    );
  if (written !== undefined) {
    const text = String(written);
    const numeric = text === "root" ? "0" : /^\d+(:\d+)?$/.test(text) ? text : undefined;
    if (numeric === undefined)
      conversion.note(
        "decide",
        service,
        ["user"],
        `not carried over: ${conversion.restore(text)} is a name, and the manifest takes a numeric uid[:gid]`,
        "find its uid in the image (podman run --rm --entrypoint id IMAGE -u NAME) and write it",
      );
    else if (numeric !== "0") container.user = numeric;
  }
  const hasAppVolumes = container.volumes.some((v) => v.name !== undefined);
  if (container.user !== undefined && hasAppVolumes)
    container.data_uid = Number(container.user.split(":")[0]);
  else if (usesAppUid && hasAppVolumes) container.data_uid = APP_UID;
}

/**
 * Docker gives every container a default set of capabilities; the platform gives none unless listed.
 * The import keeps the ones of Docker's set that need no permission (the image may need them to
 * change owners or users at start), less `cap_drop`, and asks a permission for each elevated `cap_add`.
 */
function capabilities(conversion: Conversion, service: ProjectService): string[] {
  const normalise = (cap: string) => cap.trim().toUpperCase().replace(/^CAP_/, "");
  const dropped = (service.spec.cap_drop ?? []).map(normalise);
  const out = new Set<string>(
    dropped.includes("ALL") ? [] : SAFE_CAPABILITIES.filter((c) => !dropped.includes(c)),
  );
  for (const [index, written] of (service.spec.cap_add ?? []).entries()) {
    const cap = normalise(written);
    const sub = ["cap_add", index];
    if (cap === "ALL")
      conversion.note(
        "decide",
        service,
        sub,
        "not carried over: all capabilities are never given",
        "add the capabilities the app needs, one by one",
      );
    else if (!ALL_CAPABILITIES.includes(cap))
      conversion.note(
        "decide",
        service,
        sub,
        `not carried over: ${written} is not a Linux capability`,
        "name a capability, such as NET_ADMIN",
      );
    else {
      out.add(cap);
      if ((ELEVATED_CAPABILITIES as readonly string[]).includes(cap)) {
        const name = conversion.permissionName(`cap-${cap.toLowerCase().replace(/_/g, "-")}`, {
          kind: "capability",
          capability: cap,
          reason: `${service.name} adds ${cap} (imported from docker-compose)`,
        });
        conversion.note(
          "info",
          service,
          sub,
          `${cap} is asked with the capability permission \`${name}\`, which the operator approves at install`,
        );
      }
    }
  }
  return ALL_CAPABILITIES.filter((c) => out.has(c));
}

/** A signal name as the manifest writes it (`SIGTERM`), undefined for one a program cannot catch. */
function stopSignal(written: string): string | undefined {
  const upper = written.trim().toUpperCase();
  const name = /^\d+$/.test(upper)
    ? Object.entries(SIGNALS).find(([, number]) => number === Number(upper))?.[0]
    : upper.startsWith("SIG")
      ? upper
      : `SIG${upper}`;
  return name && name in SIGNALS && name !== "SIGKILL" && name !== "SIGSTOP" ? name : undefined;
}

/** Compose's defaults: a check every 30s, 30s to answer, 3 failures, no start period. */
const DEFAULT_INTERVAL_MS = 30_000;

function healthcheck(
  conversion: Conversion,
  service: ProjectService,
  spec: HealthcheckSpec | undefined,
): Health | undefined {
  if (spec === undefined) return undefined;
  const test =
    spec.test === undefined
      ? undefined
      : typeof spec.test === "string"
        ? ["CMD-SHELL", spec.test]
        : spec.test;
  if (composeBool(spec.disable) || test?.[0] === "NONE") return undefined;
  if (test === undefined || test.length === 0) {
    conversion.note(
      "review",
      service,
      ["healthcheck"],
      "not carried over: it only sets timings for the image's own HEALTHCHECK, which the platform does not run",
      "write the check's `test`",
    );
    return undefined;
  }
  const [kind, ...rest] = test as [string, ...string[]];
  let command: string[];
  if (kind === "CMD" && rest.length > 0) command = rest;
  else if (kind === "CMD-SHELL" && rest.length > 0) command = ["/bin/sh", "-c", rest.join(" ")];
  else {
    conversion.note(
      "decide",
      service,
      ["healthcheck", "test"],
      "not carried over: a test starts with CMD (a program) or CMD-SHELL (a shell command), then the command",
      "write the test as the compose specification does",
    );
    return undefined;
  }
  if (command.some(hasMarker))
    conversion.note(
      "decide",
      service,
      ["healthcheck", "test"],
      `the check uses ${describeMarkers(conversion, command.join(" "))}, which cannot stand inside a command`,
      "read the value from the container's environment in a shell test ($NAME)",
    );
  const duration = (key: "interval" | "timeout" | "start_period", fallback: number): number => {
    const written = spec[key];
    if (written === undefined) return fallback;
    const ms = durationMs(written);
    if (ms === undefined) {
      conversion.note(
        "info",
        service,
        ["healthcheck", key],
        `${written} is not a duration: Compose's default ${fallback / 1000}s is used`,
      );
      return fallback;
    }
    return ms;
  };
  const interval = Math.max(duration("interval", DEFAULT_INTERVAL_MS), 1000);
  let timeout = duration("timeout", DEFAULT_INTERVAL_MS);
  if (timeout >= interval) {
    const shorter = interval >= 2000 ? interval - 1000 : interval / 2;
    conversion.note(
      "info",
      service,
      ["healthcheck", "timeout"],
      `the check's timeout is ${shorter / 1000}s: it must be shorter than its interval (${interval / 1000}s)`,
    );
    timeout = shorter;
  }
  const retries = Math.min(Math.max(Math.round(Number(spec.retries ?? 3)) || 3, 1), 100);
  if (spec.start_interval !== undefined)
    conversion.note(
      "info",
      service,
      ["healthcheck", "start_interval"],
      "not carried over: the check runs at its interval from the start",
    );
  return {
    type: "exec",
    command: command.map((w) => conversion.restore(w)),
    interval: interval / 1000,
    timeout: timeout / 1000,
    retries,
    start_period: duration("start_period", 0) / 1000,
  };
}

/** Whether another service names this one's `name` in its environment or program (as a host). */
function referencedElsewhere(conversion: Conversion, service: ProjectService, name: string): boolean {
  const pattern = new RegExp(
    `(^|[^A-Za-z0-9_.-])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^A-Za-z0-9_.-])`,
  );
  return conversion.project.services.some(
    (other) =>
      other !== service &&
      ([...other.environment.values()].some((e) => e.value !== null && pattern.test(e.value)) ||
        pattern.test(JSON.stringify([other.spec.command, other.spec.entrypoint, other.spec.healthcheck]))),
  );
}

/**
 * A password written as a literal: a variable named as one, whose value looks like one (not a
 * flag, a number, a path, a URL or a placeholder sentence).
 */
function isPassword(name: string, value: string): boolean {
  return (
    /PASSWORD|PASSWD|(^|_)PASS$|SECRET/i.test(name) &&
    !/(_FILE|_PATH|_DIR)$/i.test(name) &&
    value.length >= 4 &&
    !/\s/.test(value) &&
    !/^(true|false|yes|no|none|null|\d+)$/i.test(value) &&
    !value.startsWith("/") &&
    !/^[a-z]+:\/\//i.test(value) &&
    !hasMarker(value)
  );
}

/** Variables that name a user or a database: a password equal to their value is not written there. */
const IDENTIFIER_NAME = /(USER|USERNAME|LOGIN|(^|_)NAME$|(^|_)DB$|DATABASE)$/i;

/**
 * The literal passwords that can safely become generated secrets: every place the value is written
 * is the whole value of a password variable (a value also written inside a URL, a command or a
 * check would no longer match there). A user or database named like the password
 * (postgres/postgres) is a coincidence, not a use.
 */
export function literalSecretsOf(conversion: Conversion): LiteralSecrets {
  const candidates = new Map<string, string>();
  const others: Array<{ name: string; value: string }> = [];
  const texts: string[] = [];
  for (const service of conversion.project.services) {
    for (const [name, entry] of service.environment) {
      if (entry.value === null) continue;
      if (isPassword(name, entry.value)) {
        if (!candidates.has(entry.value)) candidates.set(entry.value, secretName(name));
      } else others.push({ name, value: entry.value });
    }
    texts.push(
      JSON.stringify([
        service.spec.command,
        service.spec.entrypoint,
        service.spec.healthcheck,
        service.spec.labels,
      ]),
    );
  }
  for (const { name, value } of others)
    if (!(IDENTIFIER_NAME.test(name) && candidates.has(value))) texts.push(value);
  for (const value of [...candidates.keys()])
    if (texts.some((text) => text.includes(value))) candidates.delete(value);
  return candidates;
}
