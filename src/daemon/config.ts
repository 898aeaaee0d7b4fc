/**
 * Daemon configuration: command-line options over environment variables over a config file over
 * defaults. Parsed once into a typed value; a bad value is an error naming its origin and the fix.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import type { SourceConfig } from "../catalog/node/source.ts";

export const DEFAULT_LISTEN = "127.0.0.1:7780";

const ConfigFile = z.strictObject({
  dataDir: z.string().min(1).optional(),
  listen: z.string().min(1).optional(),
  appsDir: z.string().min(1).optional(),
  backend: z.enum(["auto", "podman", "quadlet"]).optional(),
  podmanSocket: z.string().min(1).optional(),
  allowedHosts: z.array(z.string().min(1)).optional(),
  nodeName: z.string().min(1).optional(),
  tls: z.boolean().optional(),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  redirectHttp: z.boolean().optional(),
  interfacePorts: z.string().min(1).optional(),
  mdns: z.boolean().optional(),
  resyncSeconds: z.number().int().min(1).max(3600).optional(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error"]).optional(),
  catalogs: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "must be a short lowercase name such as official"),
        url: z.string().min(1),
        root: z.string().min(1),
      }),
    )
    .optional(),
  catalogRefreshMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
  marketRefreshMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
  backupMinIntervalSeconds: z.number().int().min(1).max(86_400).optional(),
  peerImageCacheMiB: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024)
    .optional(),
});

export type DaemonConfig = {
  dataDir: string;
  listen: { host: string; port: number };
  appsDir: string | undefined;
  backend: "auto" | "podman" | "quadlet";
  /** Where the backend setting came from, for messages (`--backend quadlet`, `the default (auto)`). */
  backendOrigin?: string;
  podmanSocket: string | undefined;
  /** Host names the API answers to besides IP literals and localhost (DNS rebinding defence). */
  allowedHosts: string[];
  resyncMs: number;
  logLevel: "trace" | "debug" | "info" | "warn" | "error";
  /** Signed catalog sources, in order of preference (docs/catalog.md). */
  catalogs: SourceConfig[];
  catalogRefreshMs: number;
  /** How apps are reached (docs/app-access.md); defaults apply when absent (see `accessDefaults`). */
  access?: AccessConfig;
  /** How often the marketplace learns from its relays (docs/marketplace.md). */
  marketRefreshMs?: number;
  /** The shortest interval of an `every` backup schedule (docs/backups.md); the scheduler looks at least this often. */
  backupMinIntervalMs?: number;
  /** The bound of the images a sharing node keeps for its peers (docs/peers.md). */
  peerImageCacheBytes?: number;
};

/** App access: the node's name, TLS and its certificate. */
export type AccessConfig = {
  /** The name app hosts hang under (`<app>.<nodeName>`); `localhost` works on the node itself. */
  nodeName: string;
  /** Whether the listener also speaks HTTPS (the same port), with the node's authority or `certificate`. */
  tls: boolean;
  /** The operator's own certificate chain and key (PEM files), instead of the node's authority. */
  certificate?: { cert: string; key: string };
  /** Whether browsers asking for the node's pages over HTTP are sent to HTTPS (the API stays on both). */
  redirectHttp: boolean;
  /**
   * Port-per-interface mode (docs/app-access.md#clients-that-cannot-use-names): each interface is
   * also served, behind the same login, on a port of its own taken from this range. Off when absent.
   */
  interfacePorts?: PortRange;
  /** Whether the node publishes its name and its apps' hosts with multicast DNS (its name ends in `.local`). */
  mdns?: boolean;
};

/** An inclusive range of TCP ports. */
export type PortRange = { first: number; last: number };

export const DEFAULT_ACCESS: AccessConfig = {
  nodeName: "localhost",
  tls: true,
  redirectHttp: false,
};

/** A node name: a DNS name of one or more labels (an address cannot carry app hosts under it). */
const NODE_NAME = /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export type ConfigInput = {
  flags: Partial<
    Record<
      | "data-dir"
      | "listen"
      | "apps-dir"
      | "config"
      | "backend"
      | "podman-socket"
      | "node-name"
      | "tls"
      | "tls-cert"
      | "tls-key"
      | "interface-ports"
      | "mdns",
      string
    >
  >;
  env: NodeJS.ProcessEnv;
};

export class ConfigError extends Error {}

export function parseListen(value: string, origin: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new ConfigError(
      `${origin}: "${value}" is not HOST:PORT; use e.g. ${DEFAULT_LISTEN} (or 0.0.0.0:7780 to listen on every interface)`,
    );
  return { host: (match[1] as string).replace(/^\[|\]$/g, ""), port };
}

/** The configuration, from flags (highest), ARCHY_* environment variables, the config file, defaults. */
export function loadConfig(input: ConfigInput): DaemonConfig {
  const { flags, env } = input;
  const configPath = flags.config ?? env.ARCHY_CONFIG;
  let file: z.infer<typeof ConfigFile> = {};
  if (configPath) {
    let text: string;
    try {
      text = readFileSync(configPath, "utf8");
    } catch (error) {
      throw new ConfigError(`config file ${configPath}: ${(error as Error).message}`);
    }
    const parsed = ConfigFile.safeParse(parse(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(
        `config file ${configPath}: ${issue?.path.join(".") || "(file)"}: ${issue?.message}; allowed keys: ${Object.keys(ConfigFile.shape).join(", ")}`,
      );
    }
    file = parsed.data;
  }
  const pick = (flag: keyof ConfigInput["flags"], variable: string, fromFile: string | undefined) => {
    if (flags[flag] !== undefined) return { value: flags[flag], origin: `--${flag}` };
    if (env[variable] !== undefined && env[variable] !== "")
      return { value: env[variable], origin: variable };
    if (fromFile !== undefined) return { value: fromFile, origin: `config file ${configPath}` };
    return undefined;
  };
  const dataDir =
    pick("data-dir", "ARCHY_DATA_DIR", file.dataDir)?.value ??
    join(homedir(), ".local", "share", "archipelago");
  const listen = pick("listen", "ARCHY_LISTEN", file.listen) ?? { value: DEFAULT_LISTEN, origin: "default" };
  const appsDir = pick("apps-dir", "ARCHY_APPS_DIR", file.appsDir)?.value;
  const backend = pick("backend", "ARCHY_BACKEND", file.backend) ?? { value: "auto", origin: "default" };
  if (!["auto", "podman", "quadlet"].includes(backend.value as string))
    throw new ConfigError(
      `${backend.origin}: backend "${backend.value}" is not one of auto, podman, quadlet`,
    );
  return {
    catalogs: catalogSources(file.catalogs ?? [], configPath),
    catalogRefreshMs: (file.catalogRefreshMinutes ?? 60) * 60_000,
    marketRefreshMs: (file.marketRefreshMinutes ?? 15) * 60_000,
    backupMinIntervalMs: (file.backupMinIntervalSeconds ?? 60) * 1000,
    ...(file.peerImageCacheMiB !== undefined
      ? { peerImageCacheBytes: file.peerImageCacheMiB * 1024 * 1024 }
      : {}),
    dataDir: resolve(dataDir as string),
    listen: parseListen(listen.value as string, listen.origin),
    appsDir: appsDir ? resolve(appsDir) : undefined,
    backend: backend.value as DaemonConfig["backend"],
    backendOrigin:
      backend.origin === "default"
        ? "the default (auto)"
        : backend.origin === "--backend"
          ? `--backend ${backend.value}`
          : backend.origin === "ARCHY_BACKEND"
            ? `ARCHY_BACKEND=${backend.value}`
            : `${backend.origin}: backend ${backend.value}`,
    podmanSocket: pick("podman-socket", "ARCHY_PODMAN_SOCKET", file.podmanSocket)?.value,
    allowedHosts: env.ARCHY_ALLOWED_HOSTS
      ? env.ARCHY_ALLOWED_HOSTS.split(",")
          .map((h) => h.trim())
          .filter(Boolean)
      : (file.allowedHosts ?? []),
    access: accessConfig(pick, env, file, configPath),
    resyncMs: (file.resyncSeconds ?? 30) * 1000,
    logLevel: (env.ARCHY_LOG_LEVEL as DaemonConfig["logLevel"]) ?? file.logLevel ?? "info",
  };
}

type Pick = (
  flag: keyof ConfigInput["flags"],
  variable: string,
  fromFile: string | undefined,
) => { value: string | undefined; origin: string } | undefined;

/** The access settings: the node's name, TLS on or off, the operator's own certificate. */
function accessConfig(
  pick: Pick,
  env: NodeJS.ProcessEnv,
  file: z.infer<typeof ConfigFile>,
  configPath: string | undefined,
): AccessConfig {
  const name = pick("node-name", "ARCHY_NODE_NAME", file.nodeName);
  const nodeName = (name?.value ?? DEFAULT_ACCESS.nodeName).toLowerCase().replace(/\.$/, "");
  if (!NODE_NAME.test(nodeName) || /^[0-9.]+$/.test(nodeName))
    throw new ConfigError(
      `${name?.origin}: node name "${name?.value}" is not a DNS name; use e.g. localhost, archy.lan or node.example.org (apps are then reached at <app>.<name>)`,
    );
  const tls = pick("tls", "ARCHY_TLS", file.tls === undefined ? undefined : file.tls ? "on" : "off");
  if (tls && !["on", "off"].includes(tls.value ?? ""))
    throw new ConfigError(`${tls.origin}: tls "${tls.value}" is not on or off`);
  const cert = pick("tls-cert", "ARCHY_TLS_CERT", file.tlsCert);
  const key = pick("tls-key", "ARCHY_TLS_KEY", file.tlsKey);
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError(
      `${(cert ?? key)?.origin}: give both the certificate (--tls-cert) and its key (--tls-key), or neither`,
    );
  const mdns = pick("mdns", "ARCHY_MDNS", file.mdns === undefined ? undefined : file.mdns ? "on" : "off");
  if (mdns && !["on", "off"].includes(mdns.value ?? ""))
    throw new ConfigError(`${mdns.origin}: mdns "${mdns.value}" is not on or off`);
  if (mdns?.value === "on" && !nodeName.endsWith(".local"))
    throw new ConfigError(
      `${mdns.origin}: mdns publishes names under .local, and the node name is ${nodeName}: give the node a name ending in .local (--node-name archy.local), or turn mdns off`,
    );
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();
  return {
    nodeName,
    mdns: mdns?.value === "on",
    tls: (tls?.value ?? "on") === "on",
    ...(cert?.value && key?.value
      ? { certificate: { cert: resolve(base, cert.value), key: resolve(base, key.value) } }
      : {}),
    redirectHttp: env.ARCHY_REDIRECT_HTTP ? env.ARCHY_REDIRECT_HTTP === "1" : (file.redirectHttp ?? false),
    ...interfacePorts(pick("interface-ports", "ARCHY_INTERFACE_PORTS", file.interfacePorts)),
  };
}

/** The port-per-interface range (`7800-7899`), or nothing when the mode is off (absent or `off`). */
function interfacePorts(setting: { value: string | undefined; origin: string } | undefined): {
  interfacePorts?: PortRange;
} {
  if (setting?.value === undefined || setting.value === "off") return {};
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(setting.value);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1024 || last > 65535 || first > last)
    throw new ConfigError(
      `${setting.origin}: interface ports "${setting.value}" is not a range FIRST-LAST of ports from 1024 to 65535; use e.g. 7800-7899, or off`,
    );
  return { interfacePorts: { first, last } };
}

/** Catalog sources with their paths (a local catalog directory, the pinned root) relative to the config file. */
function catalogSources(sources: SourceConfig[], configPath: string | undefined): SourceConfig[] {
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();
  const seen = new Set<string>();
  return sources.map((source) => {
    if (seen.has(source.name))
      throw new ConfigError(
        `config file ${configPath}: catalogs: the name ${source.name} is used twice; give each source its own name`,
      );
    seen.add(source.name);
    return {
      name: source.name,
      url: /^(https?|file):/.test(source.url) ? source.url : resolve(base, source.url),
      root: resolve(base, source.root),
    };
  });
}
