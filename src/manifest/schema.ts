/**
 * The app manifest v1: the single source of truth for its TypeScript types, the schema-level
 * validator and the published JSON Schema (`schema/manifest-v1.json`).
 *
 * The schema describes what an author may write; parsing yields a normalised `Manifest` (durations
 * in milliseconds, memory in bytes, defaults filled in). Cross-field rules (references, clashes,
 * cycles, security policy) live in `semantics.ts`, because JSON Schema cannot express them.
 */
import { z } from "zod";
import { APP_VERSION, APP_VERSION_REQUIREMENT } from "./app-version.ts";
import { canonicalIp } from "./ip-address.ts";

/** A DNS label: container keys, volume and secret names, and most other names in a manifest. */
export const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** An app id: a DNS label, optionally namespaced for third-party apps (`alice.relay`). */
export const APP_ID = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,38}[a-z0-9])?)?$/;
/** An image reference: `name[:tag][@sha256:<64 hex>]`, with an optional registry host. */
export const IMAGE_REF =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A file of the app directory: relative, without `.` or `..` segments, empty segments or NUL. */
const APP_FILE = /^(?!\/)(?!(.*\/)?\.{1,2}(\/|$))(?!.*\/\/)[^\0]+(?<!\/)$/;
/** A public path of an interface: RFC 3986 path characters, no percent-encoding (see access.ts). */
export const PUBLIC_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const DURATION = /^\d+(\.\d+)?(ms|s|m|h)$/;
const MEMORY = /^\d+(\.\d+)?[kmgKMG]$/;

export const CATEGORIES = [
  "bitcoin",
  "lightning",
  "finance",
  "media",
  "files",
  "home-automation",
  "networking",
  "communication",
  "productivity",
  "developer",
  "security",
  "utilities",
  "other",
] as const;

/**
 * The capabilities a container may add without a named permission: the subset of Podman's
 * default set that cannot be used to escape the container's user namespace.
 */
export const SAFE_CAPABILITIES = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
] as const;

/** Capabilities that exist but are only granted through a `capability` permission the operator approves. */
export const ELEVATED_CAPABILITIES = [
  "AUDIT_CONTROL",
  "AUDIT_READ",
  "AUDIT_WRITE",
  "BLOCK_SUSPEND",
  "BPF",
  "CHECKPOINT_RESTORE",
  "DAC_READ_SEARCH",
  "IPC_LOCK",
  "IPC_OWNER",
  "LEASE",
  "LINUX_IMMUTABLE",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "MKNOD",
  "NET_ADMIN",
  "NET_BROADCAST",
  "NET_RAW",
  "PERFMON",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_MODULE",
  "SYS_NICE",
  "SYS_PACCT",
  "SYS_PTRACE",
  "SYS_RAWIO",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "SYSLOG",
  "WAKE_ALARM",
] as const;

export const ALL_CAPABILITIES: readonly string[] = [...SAFE_CAPABILITIES, ...ELEVATED_CAPABILITIES];

const SIGRTMIN = 34;
const SIGRTMAX = 64;

/**
 * The Linux signals by name, with their numbers: the names Podman accepts (its signal map), with the
 * `SIG` prefix. A number has its usual name first (SIGABRT before its alias SIGIOT).
 */
export const SIGNALS: Readonly<Record<string, number>> = Object.fromEntries([
  ...[
    "HUP",
    "INT",
    "QUIT",
    "ILL",
    "TRAP",
    "ABRT",
    "BUS",
    "FPE",
    "KILL",
    "USR1",
    "SEGV",
    "USR2",
    "PIPE",
    "ALRM",
    "TERM",
    "STKFLT",
    "CHLD",
    "CONT",
    "STOP",
    "TSTP",
    "TTIN",
    "TTOU",
    "URG",
    "XCPU",
    "XFSZ",
    "VTALRM",
    "PROF",
    "WINCH",
    "IO",
    "PWR",
    "SYS",
  ].map((name, index) => [`SIG${name}`, index + 1]),
  ["SIGIOT", 6],
  ["SIGPOLL", 29],
  ["SIGRTMIN", SIGRTMIN],
  ...Array.from({ length: 15 }, (_, i) => [`SIGRTMIN+${i + 1}`, SIGRTMIN + i + 1]),
  ...Array.from({ length: 14 }, (_, i) => [`SIGRTMAX-${14 - i}`, SIGRTMAX - 14 + i]),
  ["SIGRTMAX", SIGRTMAX],
]);

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const UNIT_BYTES = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** A duration: a number of seconds, or a string such as `500ms`, `30s`, `2m`, `1h`. Normalised to ms. */
export const Duration = z
  .union([
    z.number().nonnegative(),
    z.string().regex(DURATION, "must be a number of seconds or a string such as 500ms, 30s, 2m or 1h"),
  ])
  .transform((value) => {
    if (typeof value === "number") return Math.round(value * 1000);
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value) as RegExpExecArray;
    return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  })
  .meta({ description: "A duration: seconds as a number, or a string such as 500ms, 30s, 2m or 1h." });

/** The smallest memory limit a container starts with (crun and runc need about 6 MiB). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** A number of bytes as a manifest writes a size: `6m`, `512k`, `2g`, else bytes. */
export function memorySize(bytes: number): string {
  for (const [unit, size] of Object.entries(UNIT_BYTES).reverse())
    if (bytes % size === 0 && bytes >= size) return `${bytes / size}${unit}`;
  return String(bytes);
}

/** A memory limit written as a number of bytes (messages about it speak in sizes). */
export const MemoryBytes = z.number().int().min(MIN_MEMORY_BYTES);

const Memory = z
  .union([MemoryBytes, z.string().regex(MEMORY, "must be a size such as 512m or 2g (k, m, g suffixes)")])
  .transform((value) => {
    if (typeof value === "number") return value;
    const unit = value.at(-1)?.toLowerCase() as keyof typeof UNIT_BYTES;
    return Math.round(Number(value.slice(0, -1)) * UNIT_BYTES[unit]);
  })
  .meta({ description: "A memory limit: bytes as a number, or a size such as 512m or 2g." });

/** A size in bytes: a number, or a string with a k, m or g suffix. */
function sizeBytes(value: number | string): number {
  if (typeof value === "number") return value;
  const unit = value.at(-1)?.toLowerCase() as keyof typeof UNIT_BYTES;
  return Math.round(Number(value.slice(0, -1)) * UNIT_BYTES[unit]);
}

/** The largest `/dev/shm` a container gets. */
export const MAX_SHM_BYTES = 1024 * UNIT_BYTES.g;

const ShmSize = z
  .union([
    z.number().int().min(1).max(MAX_SHM_BYTES),
    z.string().regex(MEMORY, "must be a size such as 64m or 1g (k, m, g suffixes)"),
  ])
  .transform(sizeBytes)
  .meta({
    description:
      "The size of the container's /dev/shm (default Podman's, 64m): bytes as a number, or a size such as 256m or 1g.",
  });

/** The resource limits (setrlimit) a container can ask for, by the names Podman and Compose use. */
export const ULIMIT_NAMES = [
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
] as const;
const UlimitValue = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Ulimits = z
  .partialRecord(
    z.enum(ULIMIT_NAMES),
    z.union([
      UlimitValue,
      z.strictObject({
        soft: UlimitValue.meta({ description: "The limit the process starts with." }),
        hard: UlimitValue.meta({ description: "The most the process may raise it to." }),
      }),
    ]),
  )
  .transform(
    (limits) =>
      Object.fromEntries(
        Object.entries(limits).map(([name, limit]) => [
          name,
          typeof limit === "number" ? { soft: limit, hard: limit } : limit,
        ]),
      ) as Partial<Record<(typeof ULIMIT_NAMES)[number], { soft: number; hard: number }>>,
  )
  .meta({
    description:
      "Resource limits of the container's processes, by name (nofile, nproc, memlock…): one number for both, or { soft, hard }.",
    examples: [{ nofile: { soft: 20000, hard: 40000 } }],
  });

const Label = z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-'");
const Port = z.number().int().min(1).max(65535);
const AbsolutePath = z.string().startsWith("/", "must be an absolute path starting with '/'");
const Command = z
  .array(z.string())
  .min(1, "must hold at least the program to run")
  .meta({ description: "A program and its arguments, as a list (no shell is involved)." });

const SecretRef = z
  .strictObject({ secret: Label.meta({ description: "A generated secret declared under `secrets`." }) })
  .meta({ description: "The value of one of this app's generated secrets, delivered as a Podman secret." });

const ExportRef = z
  .strictObject({
    app: z
      .string()
      .regex(APP_ID)
      .meta({ description: "The id of a dependency declared under `dependencies`." }),
    export: Label.meta({ description: "The name of one of that app's `exports`." }),
  })
  .meta({ description: "A value exported by a dependency (a host, a port, a generated password)." });

const EnvValue = z.union([z.string(), z.number(), z.boolean(), SecretRef, ExportRef]).meta({
  description: "A literal (string, number, boolean), a `{secret}` or an `{app, export}` reference.",
});

const PortMapping = z
  .strictObject({
    container: Port.meta({ description: "The port the process listens on inside the container." }),
    host: Port.optional().meta({
      description: "The host port to publish it on; omit to keep the port private to the app network.",
    }),
    protocol: z.enum(["tcp", "udp"]).default("tcp").meta({ description: "The transport protocol." }),
    bind: z
      .union([z.ipv4(), z.ipv6()])
      // One spelling per address, so that clashes are found whatever the spelling (`0:0:0:0:0:0:0:0`
      // is `::`) and every part of the platform compares the same text.
      .overwrite(canonicalIp)
      .optional()
      .meta({
        description:
          "The host address to bind. Default: 127.0.0.1 for a port an interface serves (the node's proxy is the way in), 0.0.0.0 for any other.",
      }),
  })
  .meta({
    description: "A port the container listens on, optionally published on the host.",
    examples: [{ container: 8080, host: 8080 }],
  });

const Volume = z
  .strictObject({
    name: Label.optional().meta({
      description: "An app volume, stored under the app's data directory (kept on uninstall).",
    }),
    host_path: AbsolutePath.optional().meta({
      description: "A host directory outside the app's data directory; needs a `host-path` permission.",
    }),
    permission: Label.optional().meta({ description: "The `host-path` permission that grants `host_path`." }),
    path: AbsolutePath.meta({ description: "Where the volume is mounted inside the container." }),
    read_only: z.boolean().default(false).meta({ description: "Mount the volume read-only." }),
  })
  .meta({ description: "A volume mounted into the container.", examples: [{ name: "data", path: "/data" }] });

const SecretTarget = AbsolutePath.meta({
  description: "The file the secret appears as inside the container (mode 0400).",
});

const FileSecret = z
  .union([
    z.strictObject({
      secret: Label.meta({ description: "A generated secret declared under `secrets`." }),
      target: SecretTarget,
    }),
    z.strictObject({
      app: z
        .string()
        .regex(APP_ID)
        .meta({ description: "A dependency that declares `consumers`, this app's account there." }),
      consumer: Label.meta({ description: "One of that app's `consumers.secrets`: this app's own value." }),
      target: SecretTarget,
    }),
  ])
  .meta({
    description:
      "A generated secret mounted as a file: one of this app's `secrets`, or a value of its account in a dependency (`{app, consumer}`).",
  });

const Device = z
  .strictObject({
    permission: Label.meta({ description: "The `device` permission that names the host device." }),
    path: AbsolutePath.optional().meta({
      description: "Where it appears in the container (default: same path).",
    }),
  })
  .meta({ description: "A host device passed into the container, granted by a `device` permission." });

/** The default health check interval and probe timeout, when neither is written (ms). */
const HEALTH_INTERVAL_MS = 10_000;
const HEALTH_TIMEOUT_MS = 5_000;

const HealthTiming = {
  interval: Duration.optional().meta({
    description:
      "Time between probes (default 10s, or twice `timeout` when that is written and longer than 5s).",
  }),
  timeout: Duration.optional().meta({
    description:
      "How long one probe may take (default 5s, or half of `interval` when that is written and shorter than 10s).",
  }),
  retries: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .meta({ description: "Consecutive failures before the container counts as unhealthy (default 3)." }),
  start_period: Duration.prefault(30).meta({
    description: "Grace period after start during which failures do not count (default 30s).",
  }),
};

const HealthCheck = z
  .discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("http").meta({ description: "Probe with an HTTP GET." }),
      port: Port.meta({ description: "The container port to probe." }),
      path: z
        .string()
        .startsWith("/", "must start with '/'")
        .default("/")
        .meta({ description: "The path to request." }),
      status: z
        .number()
        .int()
        .min(100)
        .max(599)
        .default(200)
        .meta({ description: "The expected HTTP status." }),
      ...HealthTiming,
    }),
    z.strictObject({
      type: z.literal("tcp").meta({
        description:
          "Probe by looking for a socket listening on `port` inside the container (/proc/net/tcp).",
      }),
      port: Port.meta({ description: "The container port to probe." }),
      ...HealthTiming,
    }),
    z.strictObject({
      type: z
        .literal("exec")
        .meta({ description: "Probe by running a command in the container (exit 0 = healthy)." }),
      command: Command,
      ...HealthTiming,
    }),
  ])
  .meta({
    description:
      "How the daemon decides that the container is healthy, by a probe it runs inside the container: an HTTP request, a listening TCP socket or a command.",
    examples: [{ type: "http", port: 8080, path: "/health", status: 200, interval: "10s" }],
  })
  .transform(withHealthTimingDefaults);

/**
 * Fills in the interval and the timeout an author left out so that they follow the one written: an
 * `interval: 5s` alone gets a 2.5s timeout, not the 5s default that would not be shorter than it.
 */
function withHealthTimingDefaults<T extends { interval?: number; timeout?: number }>(
  health: T,
): T & { interval: number; timeout: number } {
  const interval = health.interval ?? Math.max(HEALTH_INTERVAL_MS, 2 * (health.timeout ?? 0));
  const timeout = health.timeout ?? Math.min(HEALTH_TIMEOUT_MS, Math.floor(interval / 2));
  return { ...health, interval, timeout };
}

const DependsOn = z.record(Label, z.enum(["started", "healthy", "completed"])).meta({
  description:
    "Containers of this app that must be started (or healthy, or for a `job`, completed successfully) before this one starts.",
  examples: [{ db: "healthy", migrate: "completed" }],
});

export const ContainerSchema = z
  .strictObject({
    image: z
      .string()
      .regex(IMAGE_REF, "must be an image reference such as registry/name:tag or name@sha256:<digest>")
      .meta({
        description: "The image, by tag and/or pinned by `@sha256:` digest.",
        examples: ["localhost/archy-test/busybox:1", "docker.io/library/nginx:1.27@sha256:<64 hex digits>"],
      }),
    container_name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, "must be a valid container name")
      .optional()
      .meta({
        description:
          "Overrides the container name (default: the app id, or `<app>--<key>` in a stack); not `archy-…`, `archipelago`, nor with `--`, which are the platform's.",
      }),
    entrypoint: Command.optional().meta({ description: "Overrides the image's entrypoint." }),
    command: Command.optional().meta({ description: "Overrides the image's command." }),
    working_dir: AbsolutePath.optional().meta({ description: "The working directory of the process." }),
    environment: z
      .record(z.string().regex(ENV_NAME, "must be a valid environment variable name"), EnvValue)
      .default({})
      .meta({
        description: `Environment variables: literals, or references to secrets and dependencies' exports; a string may hold \${secret:NAME}, \${export:APP/NAME}, \${consumer:APP/NAME} and \${app:id|version} references, rendered by the daemon ($\${ is a literal \${).`,
      }),
    env_file: z
      .array(
        z
          .string()
          .regex(
            APP_FILE,
            "must be a relative path inside the app directory, without '..' (such as app.env)",
          ),
      )
      .optional()
      .meta({
        description:
          "Files of the app directory holding NAME=value lines, read at install and stored with the app; their values may hold the same references as environment values (secret, export, consumer, app), and `environment` wins where both set a variable.",
        examples: [["app.env"]],
      }),
    ports: z.array(PortMapping).default([]).meta({ description: "Ports the container listens on." }),
    volumes: z.array(Volume).default([]).meta({ description: "Volumes mounted into the container." }),
    secrets: z.array(FileSecret).default([]).meta({ description: "Generated secrets mounted as files." }),
    devices: z
      .array(Device)
      .default([])
      .meta({ description: "Host devices, each granted by a `device` permission." }),
    user: z
      .string()
      .regex(/^\d+(:\d+)?$/, "must be a numeric uid or uid:gid")
      .optional()
      .meta({ description: "The uid[:gid] the process runs as." }),
    data_uid: z.number().int().min(0).max(65535).optional().meta({
      description:
        "The uid that must own this container's volumes (mapped into the rootless user namespace).",
    }),
    capabilities: z.array(z.string()).default([]).meta({
      description: "Capabilities added to the empty set every container starts with (cap-drop ALL).",
    }),
    read_only: z.boolean().default(false).meta({ description: "Mount the root filesystem read-only." }),
    init: z.boolean().default(false).meta({
      description:
        "Run a tiny init (catatonit) as PID 1 that forwards signals to the program and reaps zombies: for programs that ignore SIGTERM as PID 1.",
    }),
    tmpfs: z
      .array(AbsolutePath)
      .default([])
      .meta({ description: "Paths mounted as in-memory tmpfs (useful with read_only)." }),
    stop_timeout: Duration.prefault(10).meta({
      description: "Time allowed to stop before SIGKILL (default 10s; more than 0, at most 10m).",
    }),
    stop_signal: z
      .enum(Object.keys(SIGNALS) as [string, ...string[]])
      .optional()
      .meta({
        description:
          "The signal that asks the process to stop (default: the image's, usually SIGTERM); not SIGKILL or SIGSTOP, which cannot be caught.",
      }),
    memory: Memory.optional(),
    shm_size: ShmSize.optional(),
    ulimits: Ulimits.default({}),
    aliases: z.array(Label).default([]).meta({ description: "Extra DNS names on the app network." }),
    depends_on: DependsOn.default({}),
    health: HealthCheck.optional(),
    job: z.boolean().default(false).meta({
      description:
        "A one-shot job (a migration, an init step): it runs to completion when it is created (install, update, reinstall), not at every start; containers that `depends_on` it as `completed` start once it exited 0, and a non-zero exit fails the operation with its exit code and last output. Never restarted once completed.",
    }),
  })
  .meta({ description: "One container of the app." });

const Dependency = z
  .strictObject({
    id: z.string().regex(APP_ID, "must be an app id").meta({ description: "The id of the app depended on." }),
    version: z
      .string()
      .default("*")
      .meta({ description: "A semver range the dependency's version must satisfy." }),
    state: z.enum(["installed", "running", "healthy"]).default("running").meta({
      description: "The state the dependency must reach before this app starts.",
    }),
  })
  .meta({ description: "Another app that must be installed (and running or healthy) for this one to work." });

/** The shortest generated secret: long enough that masking it in output never catches ordinary text. */
export const MIN_SECRET_LENGTH = 12;

const GeneratedSecret = z
  .strictObject({
    type: z
      .enum(["alphanumeric", "hex", "base64url"])
      .default("alphanumeric")
      .meta({ description: "The alphabet." }),
    length: z
      .number()
      .int()
      .min(MIN_SECRET_LENGTH)
      .max(256)
      .default(32)
      .meta({ description: "The number of characters." }),
  })
  .meta({
    description: "A secret generated once, at first install, and kept across uninstall and reinstall.",
  });

const Credential = z
  .strictObject({
    label: z.string().min(1).max(80).meta({ description: "What the operator sees, e.g. 'Admin login'." }),
    username: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: "A fixed user name shown with the password." }),
    secret: Label.meta({ description: "The generated secret shown as the password." }),
  })
  .meta({ description: "A login shown to the operator on explicit request." });

const Export = z
  .union([
    z.strictObject({ value: z.union([z.string(), z.number()]).meta({ description: "A literal value." }) }),
    z.strictObject({
      host: Label.meta({
        description:
          "A container key: dependents receive its container name, which resolves to it (they join its network).",
      }),
    }),
    z.strictObject({ secret: Label.meta({ description: "A generated secret of this app." }) }),
  ])
  .meta({
    description: "A value other apps can consume: a literal, a container host name or a generated secret.",
  });

const Interface = z
  .strictObject({
    container: Label.meta({ description: "The container serving the interface." }),
    port: Port.meta({ description: "A container port listed in that container's `ports`." }),
    path: z
      .string()
      .startsWith("/", "must start with '/'")
      .default("/")
      .meta({ description: "The path of the page." }),
    protocol: z.enum(["http", "https"]).default("http").meta({ description: "The protocol it speaks." }),
    auth: z.enum(["login", "none"]).default("login").meta({
      description:
        "`login`: only the node's operator, logged in, reaches it (the default). `none`: anyone who reaches the node does (the app has its own login); needs the operator's approval.",
    }),
    public_paths: z
      .array(
        z
          .string()
          .max(200)
          .regex(
            PUBLIC_PATH,
            "must be a path such as /.well-known/ or /webhook: letters, digits and -._~!$&'()*+,;=:@/",
          ),
      )
      .max(32)
      .default([])
      .meta({
        description:
          "Paths reached without the node's login (a webhook, `/.well-known/…`): a path ending in `/` covers everything below it, any other only itself. Needs the operator's approval.",
        examples: [["/.well-known/", "/hooks/deploy"]],
      }),
  })
  .meta({
    description:
      "A web interface, reached through the node's proxy at `<app>.<node>` behind the node's login.",
  });

const ExecStep = z.strictObject({
  exec: z
    .strictObject({
      container: Label.meta({ description: "The container to run the command in." }),
      command: Command,
      timeout: Duration.prefault(60).meta({ description: "How long the command may run (default 60s)." }),
    })
    .meta({ description: "Run a command inside an app container; a non-zero exit fails the operation." }),
});

const CopyStep = z.strictObject({
  copy_from_host: z
    .strictObject({
      root: Label.optional().meta({
        description: "A `host-path` permission to copy from; default: the app's own package directory.",
      }),
      from: z
        .string()
        .min(1)
        .meta({ description: "A relative path under the root; `..` and absolute paths are refused." }),
      container: Label.meta({ description: "The container to copy into." }),
      to: AbsolutePath.meta({ description: "The destination path inside the container." }),
    })
    .meta({ description: "Copy a file from an allowlisted host directory into an app container." }),
});

const WaitStep = z.strictObject({
  wait: z
    .strictObject({
      container: Label.meta({ description: "The container waited for; it needs a `health` check." }),
      until: z.enum(["healthy"]).default("healthy").meta({
        description: "What the step waits for: `healthy`, the container's health check passing.",
      }),
      timeout: Duration.prefault(60).meta({
        description: "How long it may take (default 60s); the step fails after it.",
      }),
    })
    .meta({
      description:
        "Wait until an app container is healthy (its health check, as the daemon probes it): a database a later step initialises, without a wait loop of the hook's own.",
      examples: [{ container: "db", until: "healthy", timeout: "60s" }],
    }),
});

const HookStep = z
  .union([ExecStep, CopyStep, WaitStep])
  .meta({ description: "One hook step: `exec`, `copy_from_host` or `wait`." });
const HookList = z.array(HookStep).default([]);

const Hooks = z
  .strictObject({
    post_install: HookList.meta({ description: "After the first install, once the containers run." }),
    pre_start: z.array(CopyStep).default([]).meta({
      description:
        "Before an operator's start or restart, and before the first start of a new container: `copy_from_host` steps only (a command needs a running container).",
    }),
    post_update: HookList.meta({ description: "After an update, once the containers run." }),
    pre_uninstall: HookList.meta({ description: "Before uninstall (data is kept)." }),
    pre_purge: HookList.meta({
      description:
        "Before a purge deletes the app's data, while its containers still run, before pre_uninstall: e.g. drop this app's tables in a dependency. Its failure stops the purge before anything is removed.",
    }),
  })
  .meta({ description: "Steps run at points of the app's lifecycle; each step must be idempotent." });

/**
 * Per-consumer provisioning (a database server's side): each dependent that uses one of these
 * values through `${consumer:APP/NAME}` gets its own, generated by the daemon for that pair, and
 * `provision` creates what they name (a role, a database) in this app's containers before the
 * dependent's containers are created; `deprovision` removes it at the dependent's purge.
 */
const ConsumerSteps = z.array(z.union([ExecStep, WaitStep]));

const Consumers = z
  .strictObject({
    secrets: z
      .record(Label, GeneratedSecret)
      .default({})
      .meta({
        description:
          "Values generated once for each consumer (each dependent that uses them), by name: e.g. its password. Kept with the consumer until its purge.",
        examples: [{ password: { type: "alphanumeric", length: 32 } }],
      }),
    provision: ConsumerSteps.min(
      1,
      "must hold at least one step: the one that creates the consumer's account",
    ).meta({
      description:
        "`exec` and `wait` steps in this app's containers that create one consumer's account (role, database), given its values as environment variables ARCHY_CONSUMER_APP, ARCHY_CONSUMER_NAME and ARCHY_CONSUMER_<SECRET>. Run before the consumer's containers are created, again at each re-creation and after a crash: write it idempotent.",
    }),
    deprovision: ConsumerSteps.default([]).meta({
      description:
        "Steps that remove one consumer's account at the consumer's purge (not at a plain uninstall), with the same environment; their failure stops the purge.",
    }),
  })
  .meta({
    description: `Gives each dependent that uses \`\${consumer:APP/NAME}\` an account of its own in this app (PostgreSQL style: a role, a database and a password per dependent).`,
  });

const BackupHook = z.array(ExecStep).default([]).meta({
  description: "`exec` steps (a command in a running container), e.g. a database dump into a volume.",
});

const Backup = z
  .strictObject({
    volumes: z
      .array(Label)
      .min(1)
      .optional()
      .meta({
        description: "The app volumes backed up, by name (default: every volume of the app).",
        examples: [["db-data"]],
      }),
    exclude: z
      .array(z.string().min(1).max(200))
      .default([])
      .meta({
        description: "Files left out, as globs (restic's `--exclude` syntax), e.g. caches.",
        examples: [["*.tmp", "cache/**"]],
      }),
    consistency: z.enum(["stop", "hooks"]).default("stop").meta({
      description:
        "How the copy is made consistent: `stop` (the default) stops the app, backs up and starts it again, even when the backup fails; `hooks` keeps it running and runs `pre_backup` before and `post_backup` after.",
    }),
    pre_backup: BackupHook,
    post_backup: BackupHook,
  })
  .meta({
    description:
      "How the app is backed up. Its installed manifest and generated secrets always go into the snapshot too.",
  });

const Adoption = z
  .strictObject({
    containers: z
      .record(Label, z.array(z.string().min(1)).min(1))
      .default({})
      .meta({
        description: "Legacy container names, per container key, to adopt without recreation.",
      }),
    volumes: z.record(Label, z.string().min(1)).default({}).meta({
      description: "Legacy Podman volumes, per app volume name, to take over.",
    }),
    data_paths: z.record(Label, AbsolutePath).default({}).meta({
      description: "Legacy host data directories, per app volume name, to take over.",
    }),
  })
  .meta({ description: "Existing containers, volumes and data paths this app takes over on install." });

const Reason = z
  .string()
  .min(1)
  .max(500)
  .meta({ description: "Why the app needs it, shown to the operator." });

const Permission = z
  .discriminatedUnion("kind", [
    z.strictObject({
      kind: z
        .literal("host-path")
        .meta({ description: "Mount a host directory outside the app's data directory." }),
      path: AbsolutePath.meta({
        description: "The host directory granted: a directory of its own under /mnt, /media or /srv.",
      }),
      reason: Reason,
    }),
    z.strictObject({
      kind: z.literal("device").meta({ description: "Pass a host device into a container." }),
      path: AbsolutePath.meta({ description: "The device node, e.g. /dev/ttyUSB0." }),
      reason: Reason,
    }),
    z.strictObject({
      kind: z.literal("low-port").meta({ description: "Publish a host port below 1024." }),
      port: z.number().int().min(1).max(1023).meta({ description: "The host port." }),
      reason: Reason,
    }),
    z.strictObject({
      kind: z.literal("capability").meta({ description: "Add an elevated Linux capability." }),
      capability: z.string().meta({ description: "The capability name, without CAP_, e.g. NET_ADMIN." }),
      reason: Reason,
    }),
  ])
  .meta({ description: "An elevated need, shown to the operator for approval before install." });

const Links = z
  .strictObject({
    homepage: z.url().optional().meta({ description: "The project's home page." }),
    source: z.url().optional().meta({ description: "The source code." }),
    docs: z.url().optional().meta({ description: "The documentation." }),
    support: z.url().optional().meta({ description: "Where users get help." }),
  })
  .meta({ description: "Links shown in the app's page." });

export const ManifestSchema = z
  .strictObject({
    manifest: z.literal(1).meta({ description: "The manifest format version: always 1." }),
    id: z
      .string()
      .regex(APP_ID, "must be a DNS label (a-z, 0-9, '-'), optionally namespaced as 'publisher.app'")
      .meta({
        description: "The app's unique id; third-party apps are namespaced as 'publisher.app'.",
        examples: ["photo-gallery", "alice.relay"],
      }),
    version: z
      .string()
      .regex(APP_VERSION, APP_VERSION_REQUIREMENT)
      .meta({
        description:
          "The app's version: the program's semantic version, optionally with a packaging revision (`-r2`: ordered after the version and before the next one); updates must increase it.",
        examples: ["1.0.0", "1.39.17-r2"],
      }),
    name: z.string().min(1).max(80).meta({ description: "The display name." }),
    description: z.string().min(1).max(2000).meta({ description: "What the app does, for the App Store." }),
    category: z.enum(CATEGORIES).default("other").meta({ description: "The App Store category." }),
    icon: z.string().min(1).optional().meta({ description: "A file in the app directory, or an https URL." }),
    license: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: "The license, as an SPDX expression." }),
    links: Links.default({}),
    containers: z.record(Label, ContainerSchema).meta({
      description: "The app's containers, by key. One container is a simple app; several form a stack.",
    }),
    dependencies: z.array(Dependency).default([]).meta({ description: "Other apps this one needs." }),
    secrets: z
      .record(Label, GeneratedSecret)
      .default({})
      .meta({ description: "Secrets generated at first install, by name." }),
    credentials: z
      .array(Credential)
      .default([])
      .meta({ description: "Logins shown to the operator on request." }),
    exports: z
      .record(Label, Export)
      .default({})
      .meta({ description: "Values dependents may consume, by name." }),
    consumers: Consumers.optional(),
    interfaces: z
      .record(Label, Interface)
      .default({})
      .meta({ description: "Web interfaces, by name (`ui` is the main one)." }),
    hooks: Hooks.default({
      post_install: [],
      pre_start: [],
      post_update: [],
      pre_uninstall: [],
      pre_purge: [],
    }),
    backup: Backup.default({ exclude: [], consistency: "stop", pre_backup: [], post_backup: [] }),
    adoption: Adoption.default({ containers: {}, volumes: {}, data_paths: {} }),
    permissions: z
      .record(Label, Permission)
      .default({})
      .meta({ description: "Elevated needs, by name, approved by the operator." }),
  })
  .meta({
    title: "Archipelago app manifest v1",
    description:
      "Declares an app for Archipelago: its containers, dependencies, secrets, interfaces and hooks.",
  });

export type Manifest = z.output<typeof ManifestSchema>;
export type ContainerSpec = Manifest["containers"][string];
export type PortSpec = ContainerSpec["ports"][number];
/** What a container waits for of another before it starts. */
export type DependsCondition = ContainerSpec["depends_on"][string];
export type HealthSpec = NonNullable<ContainerSpec["health"]>;
export type HookName = keyof Manifest["hooks"];
export type HookStepSpec = Manifest["hooks"]["post_install"][number];

/** The kind of a hook step: its one key. */
export function stepKind(step: HookStepSpec): "exec" | "copy_from_host" | "wait" {
  return "exec" in step ? "exec" : "copy_from_host" in step ? "copy_from_host" : "wait";
}

/** The container a hook step runs in, copies into or waits for. */
export function stepContainer(step: HookStepSpec): string {
  return "exec" in step
    ? step.exec.container
    : "copy_from_host" in step
      ? step.copy_from_host.container
      : step.wait.container;
}
export type PermissionSpec = Manifest["permissions"][string];
