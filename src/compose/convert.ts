/**
 * A compose project as a manifest-v1 app: its containers (convert-service.ts), the app's identity
 * and web page (from `x-casaos` where the file has it), the permissions and generated secrets the
 * containers ask for, and the report of everything that was not carried over as it was. Pure: the
 * manifest comes out as data, validated and written by the caller (import.ts).
 */
import { APP_ID } from "../manifest/schema.ts";
import { type AppMetadata, readMetadata } from "./casaos.ts";
import { type AppDataFile, type CopyStep, convertConfigs } from "./convert-configs.ts";
import { Conversion, type PermissionRequest, toLabel } from "./convert-context.ts";
import { moveEnvFileValues } from "./convert-env-file.ts";
import { hostNetworkNote } from "./convert-network.ts";
import { type Container, convertService, literalSecretsOf } from "./convert-service.ts";
import type { Project, ProjectService } from "./project.ts";
import { compareLines, type ReportLine } from "./report.ts";
import { PLATFORM_VARIABLES, secretMarker, secretName } from "./variables.ts";

export type ManifestData = {
  manifest: 1;
  id: string;
  version: string;
  name: string;
  description: string;
  category?: string;
  icon?: string;
  links?: Record<string, string>;
  containers: Record<string, Record<string, unknown>>;
  secrets?: Record<string, { type: string; length: number }>;
  credentials?: Array<{ label: string; username?: string; secret: string }>;
  interfaces?: Record<string, { container: string; port: number; path?: string; protocol?: string }>;
  hooks?: { pre_start: CopyStep[] };
  permissions?: Record<string, PermissionRequest>;
  adoption?: { volumes: Record<string, string> };
};

/** The manifest, the files the app directory holds besides it, and the report. */
export type Converted = {
  manifest: ManifestData;
  files: AppDataFile[];
  lines: ReportLine[];
  metadata: AppMetadata;
};

/** An app id made of a name: a DNS label of at most 40 characters. */
export function appIdFrom(name: string): string {
  const id = toLabel(name, "app").slice(0, 40).replace(/-+$/, "");
  return APP_ID.test(id) ? id : "app";
}

export function convertProject(project: Project, appId: string): Converted {
  const conversion = new Conversion(appId, project);
  conversion.lines.push(...project.lines);
  const metadata = readMetadata(project.extensions);
  for (const { name, profiles, place } of project.disabled)
    conversion.lines.push({
      level: "info",
      ...place,
      subject: `services.${name}`,
      message: `left out: it belongs to the profile${profiles.length > 1 ? "s" : ""} ${profiles.join(", ")}, which is not active`,
      action: `import with --profile ${profiles[0]} to include it`,
    });
  for (const reference of project.references) {
    const match = /^\uE000secret:([a-z0-9-]+)\uE001$/.exec(reference.value);
    if (match && !conversion.secretVariables.has(match[1] as string))
      conversion.secretVariables.set(match[1] as string, reference.name);
  }

  const keyOf = containerKeys(conversion, project.services);
  const literalSecrets = literalSecretsOf(conversion);
  const containers = new Map<string, Container>();
  for (const service of project.services)
    containers.set(
      service.name,
      convertService(
        conversion,
        service,
        keyOf,
        literalSecrets,
        metadata.serviceNotes(service.spec as Record<string, unknown>).volumes,
      ),
    );
  dependsOn(conversion, keyOf, containers);
  const configFiles = new Map<string, AppDataFile>();
  const copies = project.services.flatMap((s) =>
    convertConfigs(conversion, s, keyOf.get(s.name) as string, configFiles),
  );
  const interfaces = ui(conversion, metadata, keyOf, containers);
  for (const service of project.services)
    if (service.spec.network_mode === "host")
      hostNetworkNote(conversion, service, (containers.get(service.name) as Container).ports);
  reportVariables(conversion);
  if (project.services.length > 0)
    conversion.lines.push({
      level: "info",
      ...project.place({ file: project.file, path: ["services"] }),
      subject: "services",
      message:
        "each container keeps the capabilities Docker gives by default that need no permission (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT); Docker's MKNOD, NET_RAW and AUDIT_WRITE are not given",
      action:
        "remove from `capabilities` those the app does not need; ping and other raw sockets need a NET_RAW capability permission",
    });

  const mainService =
    [...keyOf].find(([, key]) => key === interfaces?.container)?.[0] ?? project.services[0]?.name;
  const { version, versionNote } = versionOf(metadata, containers.get(mainService ?? ""));
  if (versionNote)
    conversion.lines.push({
      level: "info",
      ...project.place({ file: project.file, path: [] }),
      subject: "(file)",
      message: versionNote,
    });
  // Credentials name users by their environment values, wherever they end up.
  const credentials = conversion.secrets.size > 0 ? credentialsOf(project.services, containers) : [];
  const envFiles = project.services.flatMap((s) => {
    const file = moveEnvFileValues(
      conversion,
      s,
      keyOf.get(s.name) as string,
      containers.get(s.name) as Container,
    );
    return file ? [file] : [];
  });
  const manifest: ManifestData = {
    manifest: 1,
    id: appId,
    version,
    name: (metadata.title ?? project.name ?? appId).slice(0, 80),
    description: describe(metadata, project),
    ...(metadata.category ? { category: metadata.category } : {}),
    ...(metadata.icon ? { icon: metadata.icon } : { icon: "icon.svg" }),
    ...(Object.values(metadata.links).some(Boolean)
      ? {
          links: Object.fromEntries(
            Object.entries(metadata.links).filter(([, url]) => url !== undefined),
          ) as Record<string, string>,
        }
      : {}),
    containers: Object.fromEntries(
      project.services.map((s) => [
        keyOf.get(s.name) as string,
        containerData(containers.get(s.name) as Container),
      ]),
    ),
  };
  if (conversion.secrets.size > 0) {
    manifest.secrets = Object.fromEntries(conversion.secrets);
    if (credentials.length > 0) manifest.credentials = credentials;
  }
  if (interfaces) manifest.interfaces = { ui: interfaces };
  if (copies.length > 0) manifest.hooks = { pre_start: copies };
  if (conversion.permissions.size > 0) manifest.permissions = Object.fromEntries(conversion.permissions);
  if (conversion.adoptVolumes.size > 0)
    manifest.adoption = { volumes: Object.fromEntries(conversion.adoptVolumes) };
  return {
    manifest,
    files: [...configFiles.values(), ...envFiles],
    lines: conversion.lines.sort(compareLines),
    metadata,
  };
}

/** Each service's container key: its name as a DNS label, unique in the app. */
function containerKeys(conversion: Conversion, services: readonly ProjectService[]): Map<string, string> {
  const keys = new Map<string, string>();
  const taken = new Set<string>();
  for (const service of services) {
    const base = toLabel(service.name, "c");
    let key = base;
    for (let n = 2; taken.has(key); n++) key = `${base}-${n}`;
    taken.add(key);
    keys.set(service.name, key);
    if (key !== service.name)
      conversion.note(
        "info",
        service,
        [],
        `the container's key is \`${key}\` (a key is a DNS label); other containers of the app reach it by that name`,
        key !== service.name.toLowerCase()
          ? `where other containers name it ${service.name}, write ${key}`
          : undefined,
      );
  }
  return keys;
}

function dependsOn(
  conversion: Conversion,
  keyOf: Map<string, string>,
  containers: Map<string, Container>,
): void {
  // A service others wait for with service_completed_successfully, and only so, is a job (a
  // migration): it runs to completion before them. One also waited for as started or healthy
  // cannot be both.
  const conditions = new Map<string, Set<string>>();
  for (const service of conversion.project.services) {
    const written = service.spec.depends_on;
    if (written === undefined) continue;
    const pairs = Array.isArray(written)
      ? written.map((name) => [name, "service_started"] as const)
      : Object.entries(written).map(([name, settings]) => [name, settings.condition] as const);
    for (const [target, condition] of pairs)
      conditions.set(target, new Set([...(conditions.get(target) ?? []), condition]));
  }
  const isJob = (target: string) =>
    [...(conditions.get(target) ?? [])].every((c) => c === "service_completed_successfully") &&
    containers.get(target)?.health === undefined;
  for (const service of conversion.project.services) {
    const written = service.spec.depends_on;
    if (written === undefined) continue;
    const entries = Array.isArray(written)
      ? written.map((name) => [name, { condition: "service_started" as const, required: true }] as const)
      : Object.entries(written);
    const container = containers.get(service.name) as Container;
    for (const [target, settings] of entries) {
      const sub = ["depends_on", ...(Array.isArray(written) ? [written.indexOf(target)] : [target])];
      const key = keyOf.get(target);
      if (key === undefined) {
        if (settings.required !== false)
          conversion.note(
            "decide",
            service,
            sub,
            `not carried over: ${target} is not a service of the app (or its profile is not active)`,
            "import with the profile that has it, or remove the dependency",
          );
        continue;
      }
      const other = containers.get(target) as Container;
      if (settings.condition === "service_completed_successfully" && isJob(target)) {
        other.job = true;
        container.depends_on[key] = "completed";
        conversion.note(
          "review",
          service,
          sub,
          `${target} became a job (\`job: true\`): it runs to completion before ${service.name} starts, once per install, update or reinstall`,
        );
        continue;
      }
      if (settings.condition === "service_completed_successfully")
        conversion.note(
          "decide",
          service,
          sub,
          `${target} must finish first, but it is also waited for as started or healthy (or has a health check), so it stays a container that keeps running and ${service.name} waits for it to start only`,
          `make ${target} a job (\`job: true\`, waited for as \`completed\` everywhere), or run its work in a post_install exec hook`,
        );
      if (settings.condition === "service_healthy" && other.health === undefined)
        conversion.note(
          "decide",
          service,
          sub,
          `${target} must be healthy first, but it has no health check the platform runs (the image's own HEALTHCHECK is not used): it waits for ${target} to start only`,
          `add a healthcheck to ${target}`,
        );
      container.depends_on[key] =
        settings.condition === "service_healthy" && other.health !== undefined ? "healthy" : "started";
    }
  }
}

/** The app's web page: from x-casaos where the file has it, else the first published TCP port. */
function ui(
  conversion: Conversion,
  metadata: AppMetadata,
  keyOf: Map<string, string>,
  containers: Map<string, Container>,
): { container: string; port: number; path?: string; protocol?: string } | undefined {
  const services = conversion.project.services;
  const hinted = metadata.ui;
  const hostPort = hinted?.hostPort && /^\d+$/.test(hinted.hostPort) ? Number(hinted.hostPort) : undefined;
  const candidates = hinted?.service ? services.filter((s) => s.name === hinted.service) : [];
  let found: { service: ProjectService; port: number } | undefined;
  for (const service of [...candidates, ...services]) {
    const container = containers.get(service.name) as Container;
    const tcp = container.ports.filter((p) => p.protocol === undefined);
    const match =
      (hostPort !== undefined ? tcp.find((p) => p.host === hostPort) : undefined) ??
      (hinted ? undefined : tcp.find((p) => p.host !== undefined));
    if (match) {
      found = { service, port: match.container };
      break;
    }
    // The page's service: the one x-casaos names, or the only one there is.
    const pageService = candidates.length > 0 ? candidates.includes(service) : services.length === 1;
    if (hostPort !== undefined && pageService && service.spec.network_mode === "host") {
      // Host networking: the program listens on the node's port itself; publish it on the same one.
      container.ports.push({ container: hostPort, host: hostPort });
      found = { service, port: hostPort };
      break;
    }
  }
  if (!found) {
    conversion.lines.push({
      level: "review",
      ...conversion.project.place({ file: conversion.project.file, path: [] }),
      subject: "(file)",
      message:
        "no web page found: the app has no `interfaces.ui` (no published TCP port, or none matching x-casaos port_map)",
      action: "if the app has a web page, add interfaces: { ui: { container: KEY, port: PORT } }",
    });
    return undefined;
  }
  if (!hinted)
    conversion.note(
      "review",
      found.service,
      ["ports"],
      `the web page is guessed: port ${found.port} of ${keyOf.get(found.service.name)}`,
      "check interfaces.ui",
    );
  const path = hinted?.path?.startsWith("/") ? hinted.path : undefined;
  const https = hinted?.scheme?.toLowerCase() === "https" || found.port === 443 || found.port === 8443;
  return {
    container: keyOf.get(found.service.name) as string,
    port: found.port,
    ...(path && path !== "/" ? { path } : {}),
    ...(https ? { protocol: "https" } : {}),
  };
}

/** One line per variable the file uses, at its first use: what the platform answered. */
function reportVariables(conversion: Conversion): void {
  const seen = new Set<string>();
  for (const reference of conversion.project.references) {
    if (seen.has(reference.name)) continue;
    seen.add(reference.name);
    const platform = PLATFORM_VARIABLES.find((v) => v.names.includes(reference.name));
    const at = {
      level: "info" as const,
      file: reference.file,
      line: reference.line,
      column: reference.column,
      subject: reference.path,
    };
    if (reference.value === secretMarker(secretName(reference.name)))
      conversion.lines.push({
        ...at,
        message: `$${reference.name}: a secret the platform generates at install (${secretName(reference.name)}), kept across reinstalls`,
      });
    else if (platform && reference.value === platform.value(conversion.appId))
      conversion.lines.push({ ...at, message: `$${reference.name}: ${platform.how}` });
    else if (reference.set)
      conversion.lines.push({ ...at, message: `$${reference.name}: from the project's .env` });
    else if (reference.operator === "")
      conversion.lines.push({
        ...at,
        level: "review",
        message: `$${reference.name} is not set: as Compose does, it became the empty string`,
        action: `set it in a .env file beside the compose file (or --env-file) and import again, or write the value in the manifest`,
      });
  }
}

/** The manifest's version: the app's own (x-casaos) or the image's tag when it is a version. */
function versionOf(
  metadata: AppMetadata,
  main: Container | undefined,
): { version: string; versionNote?: string } {
  const semver = (text: string | undefined) => {
    const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text ?? "");
    return match ? `${Number(match[1])}.${Number(match[2] ?? 0)}.${Number(match[3] ?? 0)}` : undefined;
  };
  const fromMetadata = semver(metadata.version);
  if (fromMetadata) return { version: fromMetadata };
  const tag = main?.image.replace(/@.*$/, "").split("/").at(-1)?.split(":")[1];
  const fromTag = semver(tag);
  if (fromTag) return { version: fromTag, versionNote: `the app's version ${fromTag} is its image's tag` };
  return {
    version: "0.1.0",
    versionNote: "the app's version is 0.1.0 (the file names none): an update must increase it",
  };
}

/** Characters the manifest refuses in text (controls, bidirectional overrides): security.ts. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function describe(metadata: AppMetadata, project: Project): string {
  const text = (
    metadata.description ??
    metadata.tagline ??
    `${project.name ?? "An app"} imported from docker-compose.`
  )
    .replace(HIDDEN, "")
    .trim();
  if (text.length <= 2000) return text;
  const cut = text.slice(0, 1999);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), 1000))}…`;
}

/** Logins to show the operator: generated passwords of administrators and users, with their user name. */
function credentialsOf(
  services: readonly ProjectService[],
  containers: Map<string, Container>,
): NonNullable<ManifestData["credentials"]> {
  const out: NonNullable<ManifestData["credentials"]> = [];
  const shown = new Set<string>();
  for (const service of services) {
    const environment = (containers.get(service.name) as Container).environment;
    for (const [name, value] of Object.entries(environment)) {
      if (
        typeof value !== "object" ||
        shown.has(value.secret) ||
        !/(ADMIN|USER|ROOT|^PASSWORD$|^PASS$)/i.test(name)
      )
        continue;
      shown.add(value.secret);
      const prefix = name.replace(/_?(PASSWORD|PASSWD|PASS)$/i, "");
      const username = ["_USER", "_USERNAME", "_USER_NAME", "_LOGIN"]
        .map((s) => environment[`${prefix}${s}`])
        .find((v) => typeof v === "string");
      out.push({
        label: `${name} (${service.name})`.slice(0, 80),
        ...(typeof username === "string" && username ? { username: username.slice(0, 128) } : {}),
        secret: value.secret,
      });
    }
  }
  return out;
}

/** A container as manifest data, in the order the manifest guide writes it, without empty fields. */
function containerData(c: Container): Record<string, unknown> {
  const entries: Array<[string, unknown]> = [
    ["image", c.image],
    ["job", c.job],
    ["entrypoint", c.entrypoint],
    ["command", c.command],
    ["working_dir", c.working_dir],
    ["user", c.user],
    ["data_uid", c.data_uid],
    ["env_file", c.env_file],
    ["environment", Object.keys(c.environment).length > 0 ? c.environment : undefined],
    ["ports", c.ports.length > 0 ? c.ports : undefined],
    ["volumes", c.volumes.length > 0 ? c.volumes : undefined],
    ["devices", c.devices.length > 0 ? c.devices : undefined],
    ["capabilities", c.capabilities],
    ["read_only", c.read_only],
    ["tmpfs", c.tmpfs.length > 0 ? c.tmpfs : undefined],
    ["memory", c.memory],
    ["shm_size", c.shm_size],
    ["ulimits", c.ulimits],
    ["stop_timeout", c.stop_timeout],
    ["stop_signal", c.stop_signal],
    ["aliases", c.aliases.length > 0 ? c.aliases : undefined],
    ["depends_on", Object.keys(c.depends_on).length > 0 ? c.depends_on : undefined],
    ["health", c.health],
  ];
  return Object.fromEntries(entries.filter(([, value]) => value !== undefined));
}
