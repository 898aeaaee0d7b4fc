/**
 * Every `archy` command, declared once: what dispatches it (its module, loaded only when used so
 * that `archy app validate` does not pay for the daemon's imports), what `archy --help` says of it,
 * and what shell completion offers (its options, arguments and subcommands). Data and lazy imports
 * only: every invocation reads this table.
 */

export type CommandModule = { run(argv: string[]): Promise<number> };

/** What follows an option: nothing (a flag), a file, a directory, one of some words, or free text. */
export type Value = "flag" | "file" | "dir" | "text" | readonly string[];
export type Option = { name: string; short?: string; value: Value; help: string };
/** What the positional arguments are. */
export type Args = "installed" | "available" | "files" | "none" | { words: readonly string[] };
export type CommandSpec = {
  summary: string;
  options: Option[];
  args: Args;
  subcommands?: Record<string, CommandSpec>;
};

const CONNECTION: Option[] = [
  { name: "url", value: "text", help: "the daemon URL" },
  { name: "token-file", value: "file", help: "the CLI token file" },
];
const HELP: Option = { name: "help", short: "h", value: "flag", help: "show usage" };
const JSON_OPTION: Option = { name: "json", value: "flag", help: "print the API result as JSON" };
const WAIT: Option[] = [
  { name: "no-wait", value: "flag", help: "return once accepted" },
  { name: "timeout", value: "text", help: "stop waiting after SECONDS" },
];

const APPROVE: Option = {
  name: "approve",
  value: "text",
  help: "all, or NAME,NAME: the permissions approved",
};

const lifecycleSpec = (summary: string, args: Args, extra: Option[] = []): CommandSpec => ({
  summary,
  options: [...extra, ...WAIT, ...CONNECTION, HELP],
  args,
});

export type Command = CommandSpec & {
  load: () => Promise<CommandModule>;
  /** Operator commands talk to the daemon; hidden ones serve shell completion. */
  group?: "operator" | "hidden";
};

const lifecycle =
  (kind: import("./commands/lifecycle.ts").LifecycleKind) => async (): Promise<CommandModule> => {
    const module = await import("./commands/lifecycle.ts");
    return { run: (argv) => module.run(kind, argv) };
  };

const TABLE = {
  ls: {
    summary: "list installed apps",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "none",
    group: "operator",
    load: () => import("./commands/ls.ts"),
  },
  available: {
    summary: "list apps that can be installed",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "none",
    group: "operator",
    load: () => import("./commands/available.ts"),
  },
  status: {
    summary: "show an app: containers, health, reason, URL, operations",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "installed",
    group: "operator",
    load: () => import("./commands/status.ts"),
  },
  install: {
    ...lifecycleSpec("install an app and start it", "available", [
      APPROVE,
      { name: "source", value: "text", help: "where from (nostr:NPUB for a marketplace app)" },
      { name: "confirm-risk", value: "flag", help: "install below your trust threshold" },
    ]),
    group: "operator",
    load: lifecycle("install"),
  },
  start: {
    ...lifecycleSpec("start an app", "installed"),
    group: "operator",
    load: lifecycle("start"),
  },
  stop: {
    ...lifecycleSpec("stop an app", "installed"),
    group: "operator",
    load: lifecycle("stop"),
  },
  restart: {
    ...lifecycleSpec("restart an app", "installed"),
    group: "operator",
    load: lifecycle("restart"),
  },
  reinstall: {
    ...lifecycleSpec("recreate an app's containers (data kept)", "installed"),
    group: "operator",
    load: lifecycle("reinstall"),
  },
  update: {
    ...lifecycleSpec("update an app to the version offered", "installed", [
      { name: "force", value: "flag", help: "reapply or downgrade" },
      { name: "switch-source", value: "flag", help: "consent to another source or signer" },
      APPROVE,
      { name: "confirm-risk", value: "flag", help: "update a reported or muted publisher's app" },
    ]),
    group: "operator",
    load: lifecycle("update"),
  },
  uninstall: {
    ...lifecycleSpec("uninstall an app (data kept unless --purge)", "installed", [
      { name: "purge", value: "flag", help: "also delete its data" },
      { name: "force", value: "flag", help: "with --purge: skip the app's pre_purge hook" },
    ]),
    group: "operator",
    load: lifecycle("uninstall"),
  },
  retry: {
    ...lifecycleSpec("retry an app that failed", "installed"),
    group: "operator",
    load: lifecycle("retry"),
  },
  approve: {
    ...lifecycleSpec("approve the permissions an app asks for", "installed", [
      { name: "all", value: "flag", help: "every permission not approved" },
    ]),
    group: "operator",
    load: async () => ({ run: (await import("./commands/permissions.ts")).runApprove }),
  },
  revoke: {
    ...lifecycleSpec("withdraw approval of an app's permission (it stops)", "installed"),
    group: "operator",
    load: async () => ({ run: (await import("./commands/permissions.ts")).runRevoke }),
  },
  logs: {
    summary: "show (-f: follow) an app's container output",
    options: [
      { name: "follow", short: "f", value: "flag", help: "keep printing new lines" },
      { name: "container", value: "text", help: "only this container key" },
      { name: "tail", value: "text", help: "lines to print first" },
      ...CONNECTION,
      HELP,
    ],
    args: "installed",
    group: "operator",
    load: () => import("./commands/logs.ts"),
  },
  backup: {
    summary: "back up an app (or --all) to a target; targets add|remove|check|schedule",
    options: [
      { name: "all", value: "flag", help: "every installed app" },
      { name: "target", value: "text", help: "the target's name" },
      ...WAIT,
      ...CONNECTION,
      HELP,
    ],
    args: "installed",
    subcommands: {
      targets: {
        summary: "the backup targets",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
        subcommands: {
          add: {
            summary: "add a target (a directory or a restic URL)",
            options: [
              { name: "key-file", value: "file", help: "the key of an existing repository" },
              { name: "credentials-file", value: "file", help: "NAME=VALUE credentials (s3, b2)" },
              ...CONNECTION,
              HELP,
            ],
            args: "files",
          },
          remove: { summary: "forget a target", options: [...CONNECTION, HELP], args: "none" },
          check: { summary: "open and verify a target", options: [...CONNECTION, HELP], args: "none" },
          schedule: {
            summary: "back up every app and check the target on a schedule, with retention",
            options: [
              { name: "every", value: "text", help: '"daily 03:00", "weekly sun 04:00", "every 6h" or off' },
              { name: "check", value: "text", help: "when to verify the repository (restic check), or off" },
              { name: "keep-last", value: "text", help: "keep the N newest snapshots of each app" },
              { name: "keep-daily", value: "text", help: "keep one a day for N days" },
              { name: "keep-weekly", value: "text", help: "keep one a week for N weeks" },
              { name: "keep-monthly", value: "text", help: "keep one a month for N months" },
              ...CONNECTION,
              HELP,
            ],
            args: "none",
          },
        },
      },
    },
    group: "operator",
    load: () => import("./commands/backup.ts"),
  },
  backups: {
    summary: "list the snapshots on a backup target",
    options: [JSON_OPTION, { name: "target", value: "text", help: "the target's name" }, ...CONNECTION, HELP],
    args: "installed",
    group: "operator",
    load: async () => ({ run: (await import("./commands/backup.ts")).runBackups }),
  },
  restore: {
    ...lifecycleSpec("restore an app from a backup (over it, or onto a new node)", "installed", [
      { name: "snapshot", value: "text", help: "the snapshot id (8+ digits)" },
      { name: "target", value: "text", help: "the target's name" },
    ]),
    group: "operator",
    load: async () => ({ run: (await import("./commands/backup.ts")).runRestore }),
  },
  credentials: {
    summary: "show an app's logins and passwords",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "installed",
    group: "operator",
    load: () => import("./commands/credentials.ts"),
  },
  auth: {
    summary: "rotate-token: a new CLI token; logout-all: revoke every web session",
    options: [HELP],
    args: "none",
    subcommands: {
      "rotate-token": { summary: "write a new CLI token", options: [...CONNECTION, HELP], args: "none" },
      "logout-all": { summary: "revoke every web session", options: [...CONNECTION, HELP], args: "none" },
    },
    group: "operator",
    load: () => import("./commands/auth.ts"),
  },
  completion: {
    summary: "print a bash or zsh completion script",
    options: [HELP],
    args: { words: ["bash", "zsh"] },
    load: () => import("./commands/completion.ts"),
  },
  __complete: {
    summary: "app ids for shell completion",
    options: [],
    args: { words: ["installed", "available"] },
    group: "hidden",
    load: async () => ({ run: (await import("./commands/completion.ts")).runComplete }),
  },
  market: {
    summary: "the Nostr marketplace: relays, your identity, trust settings, apps offered",
    options: [HELP],
    args: "none",
    subcommands: {
      relays: {
        summary: "list, add or remove relays",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: { words: ["ls", "add", "remove"] },
      },
      identity: {
        summary: "show or set your own npub",
        options: [{ name: "clear", value: "flag", help: "unset it" }, ...CONNECTION, HELP],
        args: "none",
      },
      settings: {
        summary: "the trust threshold and NIP-85 provider",
        options: [
          { name: "threshold", value: "text", help: "score below which installs need --confirm-risk" },
          { name: "provider", value: "text", help: "a NIP-85 rank provider (npub)" },
          { name: "no-provider", value: "flag", help: "no rank provider" },
          JSON_OPTION,
          ...CONNECTION,
          HELP,
        ],
        args: "none",
      },
      refresh: {
        summary: "learn from the relays now",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      ls: {
        summary: "the marketplace's apps with trust",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
    },
    group: "operator",
    load: () => import("./commands/market.ts"),
  },
  peers: {
    summary: "other nodes to fetch bundles and images from, and who may fetch from this one",
    options: [HELP],
    args: "none",
    subcommands: {
      ls: {
        summary: "the peers this node fetches from, and the grants",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      add: {
        summary: "fetch from a node (its token on stdin)",
        options: [...CONNECTION, HELP],
        args: "none",
      },
      remove: { summary: "stop fetching from a node", options: [...CONNECTION, HELP], args: "none" },
      grant: {
        summary: "let a node fetch from this one: prints its token once",
        options: [...CONNECTION, HELP],
        args: "none",
      },
      revoke: { summary: "withdraw a grant", options: [...CONNECTION, HELP], args: "none" },
    },
    group: "operator",
    load: () => import("./commands/peers.ts"),
  },
  sources: {
    summary: "the signed catalogs apps are installed from: ls, refresh, add, remove",
    options: [HELP],
    args: "none",
    subcommands: {
      ls: {
        summary: "the sources and how their last refresh went",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      refresh: {
        summary: "refresh them now (or the one named)",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      add: {
        summary: "add a signed catalog with its pinned root",
        options: [
          { name: "root", value: "file", help: "the catalog's root.json to trust" },
          ...CONNECTION,
          HELP,
        ],
        args: "none",
      },
      remove: { summary: "remove a source added with add", options: [...CONNECTION, HELP], args: "none" },
    },
    group: "operator",
    load: () => import("./commands/sources.ts"),
  },
  registry: {
    summary: "credentials for the image registries apps pull from: ls, login, logout",
    options: [HELP],
    args: "none",
    subcommands: {
      ls: {
        summary: "the registries with credentials",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      login: {
        summary: "store credentials (password on stdin)",
        options: [{ name: "username", value: "text", help: "the registry user" }, ...CONNECTION, HELP],
        args: "none",
      },
      logout: { summary: "forget the credentials", options: [...CONNECTION, HELP], args: "none" },
    },
    group: "operator",
    load: () => import("./commands/registry.ts"),
  },
  image: {
    summary: "an app's images and bundle in one archive, for nodes without registry access: export, import",
    options: [HELP],
    args: "none",
    subcommands: {
      export: {
        summary: "write an installed app's archive to stdout (images by digest, bundle)",
        options: [...CONNECTION, HELP],
        args: "installed",
      },
      import: {
        summary: "verify an archive and import its images and app",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "files",
      },
    },
    group: "operator",
    load: () => import("./commands/image.ts"),
  },
  app: {
    summary: "app developer tools: new, import, schema, validate, render, test, publish",
    options: [HELP],
    args: "none",
    subcommands: {
      new: {
        summary: "create an app from a template",
        options: [
          { name: "template", short: "t", value: ["web", "stack", "worker"], help: "the kind of app" },
          { name: "out", short: "o", value: "dir", help: "the app directory to create" },
          { name: "name", value: "text", help: "the display name" },
          { name: "port", value: "text", help: "the host port of its web page" },
          { name: "schema", value: "text", help: "the $schema reference" },
          HELP,
        ],
        args: "none",
      },
      import: {
        summary: "convert a docker-compose project into an app",
        options: [
          { name: "out", short: "o", value: "dir", help: "the app directory to create" },
          { name: "id", value: "text", help: "the app id" },
          { name: "profile", value: "text", help: "a compose profile to include" },
          { name: "env-file", value: "file", help: "the interpolation variables" },
          { name: "schema", value: "text", help: "the $schema reference" },
          { name: "json", value: "flag", help: "print the report as JSON" },
          HELP,
        ],
        args: "files",
      },
      schema: { summary: "print the manifest's JSON Schema", options: [HELP], args: "none" },
      validate: {
        summary: "validate manifests",
        options: [
          { name: "format", value: ["text", "json", "github", "sarif"], help: "the output format" },
          JSON_OPTION,
          HELP,
        ],
        args: "files",
      },
      render: {
        summary: "render an app for a backend",
        options: [
          { name: "target", short: "t", value: ["quadlet", "podman", "kube"], help: "what to render" },
          { name: "out", short: "o", value: "dir", help: "write files into DIR" },
          { name: "data-root", value: "dir", help: "the node data root" },
          { name: "with", value: "file", help: "a dependency manifest" },
          HELP,
        ],
        args: "files",
      },
      publish: {
        summary: "sign and publish a release over Nostr",
        options: [
          { name: "relay", value: "text", help: "a relay (ws:// or wss://)" },
          { name: "bundle-url", value: "text", help: "an HTTP PUT target for the bundle" },
          { name: "bundle-dir", value: "dir", help: "a directory for the bundle" },
          { name: "public-url", value: "text", help: "where --bundle-dir is served" },
          { name: "key", value: "file", help: "your key file" },
          { name: "notes", value: "text", help: "release notes" },
          { name: "allow-unpinned", value: "flag", help: "let images by tag through (development only)" },
          JSON_OPTION,
          HELP,
        ],
        args: "files",
      },
      test: {
        summary: "the production gate on one app directory",
        options: [
          { name: "watch", value: "flag", help: "run again when a file changes" },
          { name: "json", value: "flag", help: "print the gate's JSON report" },
          { name: "user", value: "text", help: "the daemon's user (root)" },
          { name: "timeout-scale", value: "text", help: "multiply every time limit" },
          HELP,
        ],
        args: "files",
      },
    },
    load: () => import("./commands/app.ts"),
  },
  dev: {
    summary: "marketplace developer tools: keygen, whoami, a local relay",
    options: [HELP],
    args: "none",
    subcommands: {
      keygen: {
        summary: "create your Nostr key",
        options: [
          { name: "key", value: "file", help: "the key file" },
          { name: "nip05", value: "text", help: "your NIP-05 handle" },
          { name: "encrypt", value: "flag", help: "seal it with ARCHY_DEV_PASSPHRASE" },
          HELP,
        ],
        args: "none",
      },
      whoami: {
        summary: "show a key file's identity",
        options: [{ name: "key", value: "file", help: "the key file" }, JSON_OPTION, HELP],
        args: "none",
      },
      relay: {
        summary: "run a local relay",
        options: [
          { name: "listen", value: "text", help: "HOST:PORT" },
          { name: "db", value: "file", help: "keep events in this file" },
          { name: "bundles", value: "dir", help: "serve a bundle mirror from DIR" },
          HELP,
        ],
        args: "none",
      },
    },
    load: () => import("./commands/dev.ts"),
  },
  catalog: {
    summary: "catalog publisher tools: init, add, sign, publish, rotate-root, delegate, verify",
    options: [HELP],
    args: "none",
    subcommands: {
      init: {
        summary: "create a catalog: keys and a signed root",
        options: [
          { name: "keys", value: "text", help: "ROLE=N keys of a role" },
          { name: "threshold", value: "text", help: "ROLE=K signatures a role needs" },
          { name: "expires", value: "text", help: "ROLE=DAYS a role's lifetime" },
          { name: "encrypt", value: "flag", help: "seal the keys with a passphrase" },
          HELP,
        ],
        args: "files",
      },
      add: {
        summary: "add app versions",
        options: [
          { name: "role", value: "text", help: "the delegated role to add to" },
          { name: "allow-unpinned", value: "flag", help: "let images by tag through (development catalogs)" },
          HELP,
        ],
        args: "files",
      },
      remove: { summary: "remove apps", options: [HELP], args: "files" },
      sign: {
        summary: "sign roles",
        options: [
          { name: "role", value: "text", help: "a role to sign" },
          { name: "key", value: "file", help: "a key file" },
          { name: "keys-dir", value: "dir", help: "where the keys are" },
          { name: "renew", value: "flag", help: "a new version with a fresh expiry" },
          HELP,
        ],
        args: "files",
      },
      publish: { summary: "write the signed catalog as a static tree", options: [HELP], args: "files" },
      "rotate-root": {
        summary: "prepare the next root",
        options: [
          { name: "role", value: "text", help: "the top-level role to change" },
          { name: "generate", value: "text", help: "N new keys" },
          { name: "add-key", value: "text", help: "a public key to add" },
          { name: "remove-key", value: "text", help: "a key id to remove" },
          { name: "threshold", value: "text", help: "K signatures" },
          HELP,
        ],
        args: "files",
      },
      delegate: {
        summary: "give a namespace its own keys",
        options: [
          { name: "generate", value: "text", help: "N new keys" },
          { name: "add-key", value: "text", help: "a public key to add" },
          { name: "threshold", value: "text", help: "K signatures" },
          HELP,
        ],
        args: "files",
      },
      keygen: {
        summary: "make a key file and print its public key",
        options: [
          { name: "role", value: "text", help: "the key's name" },
          { name: "encrypt", value: "flag", help: "seal it with a passphrase" },
          HELP,
        ],
        args: "files",
      },
      verify: {
        summary: "check a published catalog as a node would",
        options: [{ name: "root", value: "file", help: "the pinned root" }, JSON_OPTION, HELP],
        args: "files",
      },
    },
    load: () => import("./commands/catalog.ts"),
  },
  daemon: {
    summary: "run the daemon: API, live events, reconciler",
    options: [
      { name: "data-dir", value: "dir", help: "state and app data" },
      { name: "listen", value: "text", help: "HOST:PORT to listen on" },
      { name: "apps-dir", value: "dir", help: "local app manifests" },
      { name: "config", value: "file", help: "a config file" },
      { name: "backend", value: ["auto", "podman", "quadlet"], help: "how containers are created" },
      { name: "podman-socket", value: "file", help: "a Podman API socket" },
      HELP,
    ],
    args: "none",
    load: () => import("./commands/daemon.ts"),
  },
  doctor: {
    summary: "check (and with --fix, set up) this host for Archipelago",
    options: [{ name: "fix", value: "flag", help: "apply the fixes" }, JSON_OPTION, HELP],
    args: "none",
    load: () => import("./commands/doctor.ts"),
  },
  gate: {
    summary: "the production gate: the lifecycle matrix over apps, verified through Podman",
    options: [
      { name: "iterations", value: "text", help: "how many times the matrix runs" },
      { name: "apps", value: "text", help: "the apps to gate (A,B)" },
      { name: "steps", value: "text", help: "the steps to judge (S,T)" },
      { name: "report", value: "file", help: "write FILE.json and FILE.md" },
      { name: "destructive", value: "flag", help: "run the purge step" },
      { name: "chaos", value: "flag", help: "inject faults between steps" },
      { name: "seed", value: "text", help: "the seed of the faults" },
      { name: "apps-dir", value: "dir", help: "where the apps are" },
      { name: "timeout-scale", value: "text", help: "multiply every time limit" },
      { name: "json", value: "flag", help: "print the JSON report" },
      { name: "user", value: "text", help: "the daemon's user (root)" },
      { name: "work-dir", value: "dir", help: "where the sandbox is made" },
      { name: "keep", value: "flag", help: "leave the sandbox for inspection" },
      { name: "no-isolate", value: "flag", help: "gate the apps as written" },
      ...CONNECTION,
      { name: "podman-socket", value: "file", help: "the daemon's Podman socket" },
      { name: "data-dir", value: "dir", help: "the daemon's data directory" },
      { name: "restart-command", value: "text", help: "how to restart the daemon" },
      HELP,
    ],
    args: "none",
    load: () => import("./commands/gate.ts"),
  },
} satisfies Record<string, Command>;

export const COMMANDS: Readonly<Record<string, Command>> = TABLE;

/**
 * The subcommands the table declares for `command`. A module that dispatches subcommands keys its
 * handlers by exactly these (`Record<SubcommandName<"market">, …>`), so tsc refuses a subcommand
 * that is dispatched but not declared (no help, no completion) or declared but not dispatched.
 */
export type SubcommandName<C extends keyof typeof TABLE> = (typeof TABLE)[C] extends {
  subcommands: infer S;
}
  ? Extract<keyof S, string>
  : never;
