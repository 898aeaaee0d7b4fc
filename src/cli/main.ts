/**
 * The `archy` command line: a table of commands, each in its own module under `commands/`,
 * loaded only when used so that `archy app validate` does not pay for the daemon's imports.
 */
import { UsageError } from "./args.ts";

type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  app: { summary: "app developer tools: validate, render", load: () => import("./commands/app.ts") },
  daemon: {
    summary: "run the daemon: API, live events, reconciler",
    load: () => import("./commands/daemon.ts"),
  },
  doctor: {
    summary: "check (and with --fix, set up) this host for Archipelago",
    load: () => import("./commands/doctor.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    "Usage: archy <command> [options]",
    "",
    "Commands:",
    ...lines,
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
