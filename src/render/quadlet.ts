/**
 * The Quadlet backend's input: a `.container` unit per container, a `.network` unit for the app
 * network and a `.volume` unit per app volume (a named volume bound to the app's data directory), for
 * the user's `~/.config/containers/systemd/`. Keys are checked against Debian 13's Quadlet
 * generator (Podman 5.4) by the tests: it has no `Memory=`, so the limit goes through `PodmanArgs=`.
 *
 * Quadlet copies values into the generated `ExecStart=`, where systemd expands `%` specifiers and
 * `$` variables, so both are doubled in every value; values Quadlet splits into words are quoted.
 */
import { LABELS, OWNER } from "../manifest/naming.ts";
import { healthCommandForm } from "../manifest/renderable.ts";
import type { HealthSpec, Manifest } from "../manifest/schema.ts";
import { networkSubnet } from "./addresses.ts";
import { goDuration, healthTest } from "./health.ts";
import {
  type RenderContext,
  RenderError,
  type RenderedFile,
  type ResolvedApp,
  type ResolvedContainer,
  resolveApp,
} from "./model.ts";
import { containerBody, TMPFS_OPTIONS } from "./podman-spec.ts";

/** Seconds systemd allows beyond the container's own stop timeout before it kills Podman itself. */
export const STOP_MARGIN_SECONDS = 30;
/** Seconds systemd allows a unit that waits for health, beyond the health check's own start-up time. */
export const START_MARGIN_SECONDS = 90;

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Doubles `%` and `$`, which systemd would otherwise expand in the generated ExecStart=. */
function unitEscape(value: string): string {
  return value.replace(/[%$]/g, (c) => c + c);
}

/** A value Quadlet uses as a whole (HealthCmd=, Volume=, ...): escaped, and on one line. */
function raw(value: string, key: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters cannot be in a unit value
  if (/[\u0000-\u001f\u007f]/.test(value) || value.endsWith("\\"))
    throw new RenderError(
      `${key}= cannot hold ${JSON.stringify(value)}: line breaks, control characters and a trailing backslash do not fit in a unit file`,
    );
  return unitEscape(value);
}

/** One word of a value Quadlet splits into words (Environment=, Label=, Exec=), quoted if needed. */
export function quadletWord(value: string): string {
  if (SAFE_WORD.test(value)) return unitEscape(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what gets escaped
  const quoted = value.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => {
    if (c === "\\" || c === '"') return `\\${c}`;
    if (c === "\n") return "\\n";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return `"${unitEscape(quoted)}"`;
}

/** Undoes `unitEscape`: `%%` and `$$` back to one character. */
function unitUnescape(value: string): string {
  return value.replace(/%%|\$\$/g, (pair) => pair[0] as string);
}

/** Reads back one word `quadletWord` wrote (quoted or not). */
export function readQuadletWord(word: string): string {
  const value = unitUnescape(word);
  if (!(value.length >= 2 && value.startsWith('"') && value.endsWith('"'))) return value;
  return value
    .slice(1, -1)
    .replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, escaped: string) =>
      escaped === "n"
        ? "\n"
        : escaped === "t"
          ? "\t"
          : escaped.startsWith("x") && escaped.length === 3
            ? String.fromCharCode(Number.parseInt(escaped.slice(1), 16))
            : escaped,
    );
}

/**
 * What a `.container` unit says of its container: its name (Quadlet's default, `systemd-<unit>`,
 * when it sets none), image and labels. Enough to recognise the platform's own units (their
 * labels are the container's: app, key, spec hash) when no container runs from them.
 */
export function readContainerUnit(
  unitFile: string,
  content: string,
): { containerName: string; image: string | undefined; labels: Record<string, string> } {
  let section = "";
  let containerName = `systemd-${unitFile.replace(/\.container$/, "")}`;
  let image: string | undefined;
  const labels: Record<string, string> = {};
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[") && line.endsWith("]")) section = line;
    if (section !== "[Container]") continue;
    const at = line.indexOf("=");
    if (at <= 0) continue;
    const key = line.slice(0, at);
    const value = line.slice(at + 1);
    if (key === "ContainerName") containerName = unitUnescape(value);
    else if (key === "Image") image = unitUnescape(value);
    else if (key === "Label") {
      const label = readQuadletWord(value);
      const eq = label.indexOf("=");
      if (eq > 0) labels[label.slice(0, eq)] = label.slice(eq + 1);
    }
  }
  return { containerName, image, labels };
}

/**
 * Image=: Quadlet reads a name ending in `.image` or `.build` as one of its own image units, so such
 * a name (which has no tag then) gets Podman's default tag, `latest`, which is the same image.
 */
export function quadletImage(image: string): string {
  return /\.(image|build)$/.test(image) ? `${image}:latest` : image;
}

/** A [Unit] Description=: plain text in which systemd expands only `%` specifiers. */
function description(text: string): string {
  return `Description=${raw(text, "Description").replace(/\$\$/g, "$")}`;
}

function header(app: ResolvedApp, what: string): string {
  return [
    `# Rendered by Archipelago from ${app.id} ${app.version} (${what}).`,
    "# Do not edit: the Archipelago daemon rewrites this file from the app's manifest.",
  ].join("\n");
}

function section(name: string, lines: Array<string | undefined | false>): string {
  return [`[${name}]`, ...lines.filter((l): l is string => typeof l === "string")].join("\n");
}

function unitFile(...parts: string[]): string {
  return `${parts.join("\n\n")}\n`;
}

function labelLines(labels: Record<string, string>): string[] {
  return Object.keys(labels)
    .sort()
    .map((key) => `Label=${quadletWord(`${key}=${labels[key]}`)}`);
}

function appLabelLines(app: ResolvedApp): string[] {
  return labelLines({ [LABELS.owner]: OWNER, [LABELS.app]: app.id });
}

/** The unit file name of the app network. */
export function networkUnitName(app: Pick<ResolvedApp, "network">): string {
  return `${app.network}.network`;
}

/** The unit file name of an app volume. */
export function volumeUnitName(podmanVolume: string): string {
  return `${podmanVolume}.volume`;
}

/** The unit Quadlet generates for a `.container`, `.network` or `.volume` file. */
export function serviceOfUnitFile(file: string): string {
  if (file.endsWith(".container")) return `${file.slice(0, -".container".length)}.service`;
  if (file.endsWith(".network")) return `${file.slice(0, -".network".length)}-network.service`;
  if (file.endsWith(".volume")) return `${file.slice(0, -".volume".length)}-volume.service`;
  throw new Error(`not a Quadlet unit file: ${file}`);
}

function hostIp(bind: string): string {
  return bind.includes(":") ? `[${bind}]` : bind;
}

/**
 * Command words Quadlet cannot pass on as they are, and the variables that stand in for them:
 * Quadlet drops an empty word (and every word after it), and writes `;` unquoted into ExecStart=,
 * where systemd reads a lone `;` as the start of a second command. systemd replaces a `${NAME}`
 * word by the variable's value as exactly one argument; the service section sets the variables.
 */
const STAND_INS: Readonly<Record<string, string>> = { "": "ARCHY_EMPTY", ";": "ARCHY_SEMICOLON" };

/** Exec=: the command as words, each quoted and escaped, or its stand-in. */
function execWords(command: readonly string[]): string {
  return command
    .map((word) => (Object.hasOwn(STAND_INS, word) ? `\${${STAND_INS[word]}}` : quadletWord(word)))
    .join(" ");
}

/** The [Service] Environment= lines that define the stand-ins `command` uses. */
function standInLines(command: readonly string[]): string[] {
  return Object.entries(STAND_INS)
    .filter(([word]) => command.includes(word))
    .map(([word, variable]) => `Environment=${variable}=${word}`);
}

/**
 * HealthCmd=: a command as Podman's --health-cmd takes it whole (see healthCommandForm): a JSON
 * list, or `CMD` and the words; a shell probe as its script.
 */
function healthCmd(health: HealthSpec): string {
  if (health.type !== "exec") return healthTest(health)[1] as string;
  return healthCommandForm(health.command) === "list"
    ? JSON.stringify(health.command)
    : ["CMD", ...health.command].join(" ");
}

function containerUnit(app: ResolvedApp, c: ResolvedContainer): string {
  const body = containerBody(app, c);
  const [own, ...others] = c.networks;
  if (!own) throw new RenderError(`${app.id}: container ${c.key} has no network`);
  const k = (key: string, value: string) => `${key}=${raw(value, key)}`;

  const unit = section("Unit", [
    description(`${app.name}: container ${c.key}`),
    // A job that must have completed is ordered only: Requires= would run it again at every boot.
    ...c.dependsOn.flatMap((d) =>
      d.condition === "completed"
        ? [`After=${d.name}.service`]
        : [`Requires=${d.name}.service`, `After=${d.name}.service`],
    ),
    // Order only, no Wants=: at boot both are started and the dependency goes first; a start of
    // this unit alone must not bring back a dependency its operator stopped.
    ...app.startsAfter.map((name) => `After=${name}.service`),
  ]);

  // Aliases (and a fixed address) belong to the app network only. NetworkAlias= would add them to
  // every network the container joins (dependencies' networks too), so they go per network.
  const ownOptions = [...(own.address ? [`ip=${own.address}`] : []), ...own.aliases.map((a) => `alias=${a}`)];
  const networks =
    others.length === 0 && !own.address
      ? [`Network=${networkUnitName(app)}`, ...own.aliases.map((a) => k("NetworkAlias", a))]
      : [
          k(
            "Network",
            ownOptions.length === 0
              ? networkUnitName(app)
              : `${networkUnitName(app)}:${ownOptions.join(",")}`,
          ),
          // A dependency's network by name: it exists once the dependency is installed, whichever
          // backend runs it, while its .network unit exists only under Quadlet.
          ...others.map((n) => k("Network", n.network)),
        ];

  const health = c.health;
  const container = section("Container", [
    k("ContainerName", c.name),
    k("Image", quadletImage(c.image)),
    c.entrypoint && k("Entrypoint", JSON.stringify(c.entrypoint)),
    c.command && `Exec=${execWords(c.command)}`,
    c.workingDir && k("WorkingDir", c.workingDir),
    c.user && k("User", String(c.user.uid)),
    c.user?.gid !== undefined && k("Group", String(c.user.gid)),
    ...labelLines(body.labels),
    ...Object.keys(body.env)
      .sort()
      .map((name) => `Environment=${quadletWord(`${name}=${body.env[name]}`)}`),
    // Secret= is split into words (quoted words stay whole), then by Podman at each ','.
    ...c.envSecrets.map((s) => `Secret=${quadletWord(`${s.podmanSecret},type=env,target=${s.variable}`)}`),
    ...c.fileSecrets.map(
      (s) =>
        `Secret=${quadletWord(
          `${s.podmanSecret},type=mount,target=${s.target},uid=${s.uid},gid=${s.gid},mode=0${s.mode.toString(8)}`,
        )}`,
    ),
    ...networks,
    ...(body.hostadd ?? []).map((entry) => k("AddHost", entry)),
    ...c.ports
      .filter((p) => p.host !== undefined)
      .map((p) => k("PublishPort", `${hostIp(p.bind)}:${p.host}:${p.container}/${p.protocol}`)),
    ...c.mounts.map((m) =>
      k(
        "Volume",
        `${m.kind === "volume" ? volumeUnitName(m.podmanVolume) : m.source}:${m.path}${m.readOnly ? ":ro" : ""}`,
      ),
    ),
    ...c.devices.map((d) => k("AddDevice", `${d.host}:${d.path}`)),
    "DropCapability=ALL",
    c.capAdd.length > 0 && `AddCapability=${c.capAdd.join(" ")}`,
    "NoNewPrivileges=true",
    c.readOnly && "ReadOnly=true",
    c.init && "RunInit=true",
    // The tmpfs mounts a read-only root needs are listed explicitly below, as in the plain backend.
    c.readOnly && "ReadOnlyTmpfs=false",
    ...c.tmpfs.map((path) => k("Tmpfs", `${path}:${TMPFS_OPTIONS.join(",")}`)),
    k("StopTimeout", String(c.stopTimeoutSeconds)),
    c.stopSignal && k("StopSignal", c.stopSignal.name),
    // Quadlet (Podman 5.4) has no Memory= key.
    c.memoryBytes !== undefined && `PodmanArgs=${quadletWord(`--memory=${c.memoryBytes}`)}`,
    ...(health === undefined
      ? []
      : [
          k("HealthCmd", healthCmd(health)),
          k("HealthInterval", goDuration(health.interval)),
          k("HealthTimeout", goDuration(health.timeout)),
          k("HealthRetries", String(health.retries)),
          k("HealthStartPeriod", goDuration(health.start_period)),
        ]),
    // Another container waits for this one to be healthy: the unit is started only when it is.
    c.awaitedHealthy && "Notify=healthy",
  ]);

  const startSeconds =
    health === undefined
      ? undefined
      : START_MARGIN_SECONDS +
        Math.ceil((health.start_period + health.interval * (health.retries + 1)) / 1000);
  const service = section("Service", [
    "# No Restart=: the Archipelago daemon owns restart decisions (back-off, health-driven recreation,",
    "# the operator's stop intent). systemd restarting on its own would race the daemon's reconciler",
    "# and bring back containers the operator stopped.",
    `TimeoutStopSec=${c.stopTimeoutSeconds + STOP_MARGIN_SECONDS}`,
    ...standInLines(c.command ?? []),
    c.awaitedHealthy && startSeconds !== undefined && `TimeoutStartSec=${startSeconds}`,
  ]);
  // A job runs once per creation, when the daemon starts it: not at every boot.
  const install = c.job ? [] : [section("Install", ["WantedBy=default.target"])];
  return unitFile(header(app, `container ${c.key}`), unit, container, service, ...install);
}

function networkUnit(app: ResolvedApp): string {
  const subnet = networkSubnet(app.subnet);
  const k = (key: string, value: string) => `${key}=${raw(value, key)}`;
  return unitFile(
    header(app, "app network"),
    section("Unit", [description(`${app.name}: app network`)]),
    section("Network", [
      `NetworkName=${raw(app.network, "NetworkName")}`,
      ...(subnet
        ? [
            k("Subnet", subnet.subnet),
            k("Gateway", subnet.gateway),
            k("IPRange", `${subnet.lease_range.start_ip}-${subnet.lease_range.end_ip}`),
          ]
        : []),
      ...appLabelLines(app),
    ]),
  );
}

function volumeUnit(app: ResolvedApp, volume: ResolvedApp["volumes"][number]): string {
  return unitFile(
    header(app, `volume ${volume.volume}`),
    section("Unit", [description(`${app.name}: volume ${volume.volume}`)]),
    section("Volume", [
      `VolumeName=${raw(volume.podmanVolume, "VolumeName")}`,
      `Device=${raw(volume.hostPath, "Device")}`,
      "Type=none",
      "Options=bind",
      ...appLabelLines(app),
    ]),
  );
}

/** The app's Quadlet units: its network, its volumes, then one `.container` per container in start order. */
export function renderQuadlet(manifest: Manifest, ctx: RenderContext): RenderedFile[] {
  const app = resolveApp(manifest, ctx);
  return [
    { path: networkUnitName(app), content: networkUnit(app) },
    ...app.volumes.map((v) => ({ path: volumeUnitName(v.podmanVolume), content: volumeUnit(app, v) })),
    ...app.containers.map((c) => ({ path: `${c.name}.container`, content: containerUnit(app, c) })),
  ];
}
