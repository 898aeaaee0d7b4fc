/**
 * The `archy` command line: a table of commands, each in its own module under `commands/`,
 * loaded only when used so that `archy app validate` does not pay for the daemon's imports.
 */
import { UsageError } from "./args.ts";

type CommandModule = { run(argv: string[]): Promise<number> };
type Command = {
  summary: string;
  load: () => Promise<CommandModule>;
  /** Operator commands talk to the daemon; hidden ones serve shell completion. */
  group?: "operator" | "hidden";
};

const lifecycle =
  (kind: import("./commands/lifecycle.ts").LifecycleKind) => async (): Promise<CommandModule> => {
    const module = await import("./commands/lifecycle.ts");
    return { run: (argv) => module.run(kind, argv) };
  };

const COMMANDS: Record<string, Command> = {
  ls: { summary: "list installed apps", group: "operator", load: () => import("./commands/ls.ts") },
  available: {
    summary: "list apps that can be installed",
    group: "operator",
    load: () => import("./commands/available.ts"),
  },
  status: {
    summary: "show an app: containers, health, reason, URL, operations",
    group: "operator",
    load: () => import("./commands/status.ts"),
  },
  install: { summary: "install an app and start it", group: "operator", load: lifecycle("install") },
  start: { summary: "start an app", group: "operator", load: lifecycle("start") },
  stop: { summary: "stop an app", group: "operator", load: lifecycle("stop") },
  restart: { summary: "restart an app", group: "operator", load: lifecycle("restart") },
  reinstall: {
    summary: "recreate an app's containers (data kept)",
    group: "operator",
    load: lifecycle("reinstall"),
  },
  update: { summary: "update an app to the version offered", group: "operator", load: lifecycle("update") },
  uninstall: {
    summary: "uninstall an app (data kept unless --purge)",
    group: "operator",
    load: lifecycle("uninstall"),
  },
  retry: { summary: "retry an app that failed", group: "operator", load: lifecycle("retry") },
  approve: {
    summary: "approve the permissions an app asks for",
    group: "operator",
    load: async () => ({ run: (await import("./commands/permissions.ts")).runApprove }),
  },
  revoke: {
    summary: "withdraw approval of an app's permission (it stops)",
    group: "operator",
    load: async () => ({ run: (await import("./commands/permissions.ts")).runRevoke }),
  },
  logs: {
    summary: "show (-f: follow) an app's container output",
    group: "operator",
    load: () => import("./commands/logs.ts"),
  },
  credentials: {
    summary: "show an app's logins and passwords",
    group: "operator",
    load: () => import("./commands/credentials.ts"),
  },
  auth: {
    summary: "rotate-token: a new CLI token; logout-all: revoke every web session",
    group: "operator",
    load: () => import("./commands/auth.ts"),
  },
  completion: {
    summary: "print a bash or zsh completion script",
    load: () => import("./commands/completion.ts"),
  },
  __complete: {
    summary: "app ids for shell completion",
    group: "hidden",
    load: async () => ({ run: (await import("./commands/completion.ts")).runComplete }),
  },
  market: {
    summary: "the Nostr marketplace: relays, your identity, trust settings, apps offered",
    group: "operator",
    load: () => import("./commands/market.ts"),
  },
  registry: {
    summary: "credentials for the image registries apps pull from: ls, login, logout",
    group: "operator",
    load: () => import("./commands/registry.ts"),
  },
  app: {
    summary: "app developer tools: new, import, schema, validate, render, publish",
    load: () => import("./commands/app.ts"),
  },
  dev: {
    summary: "marketplace developer tools: keygen, whoami, a local relay",
    load: () => import("./commands/dev.ts"),
  },
  catalog: {
    summary: "catalog publisher tools: init, add, sign, publish, rotate-root, delegate, verify",
    load: () => import("./commands/catalog.ts"),
  },
  daemon: {
    summary: "run the daemon: API, live events, reconciler",
    load: () => import("./commands/daemon.ts"),
  },
  doctor: {
    summary: "check (and with --fix, set up) this host for Archipelago",
    load: () => import("./commands/doctor.ts"),
  },
  gate: {
    summary: "the production gate: the lifecycle matrix over apps, verified through Podman",
    load: () => import("./commands/gate.ts"),
  },
};

function usage(): string {
  const visible = Object.entries(COMMANDS).filter(([, c]) => c.group !== "hidden");
  const width = Math.max(...visible.map(([name]) => name.length));
  const lines = (group: Command["group"]) =>
    visible
      .filter(([, c]) => c.group === group)
      .map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    "Usage: archy <command> [options]",
    "",
    "Operator commands (they talk to the daemon at --url or ARCHY_URL, default http://127.0.0.1:7780):",
    ...lines("operator"),
    "",
    "Other commands:",
    ...lines(undefined),
    "",
    "Run `archy <command> --help` for details.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`archy: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await command.load()).run(rest);
}

// Output piped into a program that stops reading (`archy … | head`) is not an error of ours.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`archy: ${error.message}`);
    process.exitCode = 2;
  } else {
    console.error(`archy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  }
}
