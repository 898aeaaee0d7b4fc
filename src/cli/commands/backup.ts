/**
 * `archy backup APP|--all [--target NAME]`, `archy backup targets [add|remove|check]`,
 * `archy backups [APP]` and `archy restore APP [--snapshot ID] [--target NAME]` (docs/backups.md).
 */
import { readFile } from "node:fs/promises";
import { KEEP_KINDS, type Keep, parseSchedule } from "../../backup/schedule.ts";
import { UsageError } from "../args.ts";
import { type Accepted, CliError, type DaemonClient, EXIT } from "../client.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
  printJson,
  table,
} from "../operator.ts";
import { FOLLOW_OPTIONS, FOLLOW_USAGE, Follower, followAccepted, parseTimeout } from "./lifecycle.ts";

const BACKUP_USAGE = `Usage: archy backup APP|--all [--target NAME] [--no-wait] [--timeout SECONDS]
       archy backup targets [--json]
       archy backup targets add NAME DIRECTORY|URL [--key-file FILE] [--credentials-file FILE]
       archy backup targets remove NAME
       archy backup targets check NAME
       archy backup targets schedule NAME [--every WHEN|off] [--check WHEN|off]
                                          [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N]

Backs up APP (or every installed app, one after the other) to a target: its volumes, its installed
manifest and its generated secrets, encrypted and deduplicated by restic. An app whose manifest says
\`consistency: stop\` (the default) is stopped for the backup and started again afterwards, also
when the backup fails.

targets add makes a new repository at DIRECTORY (or a restic URL: sftp:, rest:, s3:, b2:) and
prints its key ONCE: save it somewhere else than this node — without it the backups cannot be read.
With --key-file, it opens an existing repository with that key instead (restoring on a new node).
--credentials-file holds NAME=VALUE lines (AWS_ACCESS_KEY_ID=…) for s3 and b2 targets.

targets schedule backs up every installed app to the target at WHEN ("daily 03:00",
"weekly sun 04:00" in the node's local time, or "every 6h"), then forgets and prunes the snapshots
the --keep-* counts do not keep (any --keep-* given replaces the retention as a whole; none set:
every snapshot is kept). --check WHEN verifies the repository (restic check) on its own schedule.
"off" removes a schedule. A failed or overdue backup and a failed check are alerts in archy ls.

  --all               back up every installed app
  --target NAME       the target (default: the node's only one)
${FOLLOW_USAGE}
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const BACKUPS_USAGE = `Usage: archy backups [APP] [--target NAME] [--json]

Lists the snapshots on a target (of APP, or of every app): when, which version, and which are the
copies a restore took of the data it replaced (pre-restore: restore one of those to undo it).

  --target NAME       the target (default: the node's only one)
  --json              print the API's backup.snapshots result
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const RESTORE_USAGE = `Usage: archy restore APP [--snapshot ID] [--target NAME] [--no-wait] [--timeout SECONDS]

Restores APP from a snapshot (default: its newest). Over an installed app, its current data is
backed up first (a pre-restore snapshot: restoring it undoes this restore). An app not installed on
this node is installed from the manifest in the snapshot, with its data and the same generated
secrets and credentials.

  --snapshot ID       a snapshot id, or its first 8 or more digits (archy backups APP lists them)
  --target NAME       the target (default: the node's only one)
${FOLLOW_USAGE}
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const out = (line: string) => console.log(line);

/** NAME=VALUE lines; blank lines and # comments skipped. */
export function parseCredentials(text: string, file: string): Record<string, string> {
  const credentials: Record<string, string> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new UsageError(`${file}:${index + 1}: expected NAME=VALUE`);
    credentials[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return credentials;
}

/** A retention as the operator reads it: `7 daily, 4 weekly`, or `all` when none is set. */
export function keepText(keep: Keep): string {
  const parts = KEEP_KINDS.flatMap((kind) => ((keep[kind] ?? 0) > 0 ? [`${keep[kind]} ${kind}`] : []));
  return parts.length > 0 ? parts.join(", ") : "all";
}

/** What `targets schedule` changes: `off` removes a schedule; any --keep-* replaces the retention. */
export function scheduleChange(values: Record<string, unknown>): {
  schedule?: string | null;
  check?: string | null;
  keep?: Keep;
} {
  const when = (option: "every" | "check") => {
    const value = values[option] as string | undefined;
    if (value === undefined) return undefined;
    if (value.trim() === "off") return null;
    // Read here too, so that a mistake names the option typed (the daemon's check names its field).
    try {
      parseSchedule(value, `--${option}`, 0);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    return value;
  };
  const every = when("every");
  const check = when("check");
  const counts = KEEP_KINDS.flatMap((kind) => {
    const value = values[`keep-${kind}`] as string | undefined;
    if (value === undefined) return [];
    if (!/^\d{1,5}$/.test(value))
      throw new UsageError(
        `--keep-${kind}: "${value}" is not a count; give a whole number such as 7 (0: none)`,
      );
    return [[kind, Number(value)] as const];
  });
  return {
    ...(every !== undefined ? { schedule: every } : {}),
    ...(check !== undefined ? { check } : {}),
    ...(counts.length > 0 ? { keep: Object.fromEntries(counts) as Keep } : {}),
  };
}

async function follow(
  client: DaemonClient,
  id: string,
  start: () => Promise<Accepted>,
  values: Record<string, unknown>,
  usage: string,
) {
  const timeoutMs = parseTimeout(values.timeout as string | undefined, usage);
  const wait = values["no-wait"] !== true;
  const follower = new Follower(client, id);
  if (wait) await follower.connect();
  let accepted: Accepted;
  try {
    accepted = await start();
  } catch (error) {
    follower.close();
    throw error;
  }
  return followAccepted(client, follower, id, accepted, { wait, timeoutMs });
}

async function targets(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    {
      json: { type: "boolean" },
      "key-file": { type: "string" },
      "credentials-file": { type: "string" },
      every: { type: "string" },
      check: { type: "string" },
      ...Object.fromEntries(KEEP_KINDS.map((kind) => [`keep-${kind}`, { type: "string" as const }])),
    },
    BACKUP_USAGE,
  );
  if (values.help) {
    console.log(BACKUP_USAGE);
    return 0;
  }
  const [action, name, location, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'\n\n${BACKUP_USAGE}`);
  return operator(async () => {
    const client = clientFor(values);
    if (action === undefined) {
      const result = await client.call("backup.targets.list");
      if (values.json) printJson(result);
      else if (result.targets.length === 0)
        out("no backup target yet: archy backup targets add NAME DIRECTORY");
      else
        out(
          table(
            ["NAME", "KIND", "LOCATION", "SCHEDULE", "KEEP", "CHECK"],
            result.targets.map((t) => [
              t.name,
              t.kind,
              t.location,
              t.schedule ?? "-",
              keepText(t.keep),
              t.check ?? "-",
            ]),
          ),
        );
      return EXIT.ok;
    }
    if (!name) throw new UsageError(`which target? give its name\n\n${BACKUP_USAGE}`);
    if (action === "add") {
      if (!location) throw new UsageError(`where? give a directory or a restic URL\n\n${BACKUP_USAGE}`);
      const keyFile = values["key-file"] as string | undefined;
      const credentialsFile = values["credentials-file"] as string | undefined;
      const key = keyFile ? (await readFile(keyFile, "utf8")).trim() : undefined;
      const credentials = credentialsFile
        ? parseCredentials(await readFile(credentialsFile, "utf8"), credentialsFile)
        : undefined;
      const result = await client.call("backup.targets.add", {
        name,
        location,
        ...(key ? { key } : {}),
        ...(credentials ? { credentials } : {}),
      });
      out(`target ${result.target.name} added: ${result.target.location}`);
      if (result.key) {
        out("");
        out("The repository key (shown this once):");
        out("");
        out(`  ${result.key}`);
        out("");
        out("Save it now, away from this node (a password manager, a printed sheet): the backups cannot");
        out("be read without it. This node keeps a copy at");
        out(`  ${result.keyFile} (mode 0600)`);
        out(
          `and a new node opens this target with: archy backup targets add ${name} LOCATION --key-file FILE`,
        );
      } else out("opened with the key you gave");
      return EXIT.ok;
    }
    if (location !== undefined) throw new UsageError(`unexpected argument '${location}'\n\n${BACKUP_USAGE}`);
    if (action === "remove") {
      await client.call("backup.targets.remove", { name });
      out(`target ${name} removed from this node; its repository and snapshots are still where they were`);
      return EXIT.ok;
    }
    if (action === "schedule") {
      const change = scheduleChange(values);
      if (Object.keys(change).length === 0)
        throw new UsageError(`what to change? give --every, --check or a --keep-* count\n\n${BACKUP_USAGE}`);
      const result = await client.call("backup.targets.schedule", { name, ...change });
      out(
        `target ${result.name}: backups ${result.schedule ?? "only on request"}, keep ${keepText(result.keep)}, checks ${result.check ?? "only on request"}`,
      );
      return EXIT.ok;
    }
    if (action === "check") {
      const result = await client.call("backup.targets.check", { name });
      out(
        `target ${name} is sound: its key opens it, restic check found no errors, ${result.snapshots} snapshots`,
      );
      return EXIT.ok;
    }
    throw new UsageError(`unknown action '${action}': add, remove, check or schedule\n\n${BACKUP_USAGE}`);
  });
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "targets") return targets(argv.slice(1));
  const { values, positionals } = parseOperator(
    argv,
    { ...FOLLOW_OPTIONS, all: { type: "boolean" }, target: { type: "string" } },
    BACKUP_USAGE,
  );
  if (values.help) {
    console.log(BACKUP_USAGE);
    return 0;
  }
  const target = values.target as string | undefined;
  if (values.all) {
    if (positionals.length > 0)
      throw new UsageError(`--all backs up every app: give no APP\n\n${BACKUP_USAGE}`);
    return operator(async () => {
      const client = clientFor(values);
      const apps = await client.call("package.list");
      if (apps.length === 0) {
        out("no apps installed: nothing to back up (`archy install APP` installs one)");
        return EXIT.ok;
      }
      let failed = 0;
      for (const app of apps) {
        try {
          await follow(
            client,
            app.id,
            () => client.call("backup.run", { id: app.id, ...(target ? { target } : {}) }),
            values,
            BACKUP_USAGE,
          );
        } catch (error) {
          failed++;
          console.error(`archy: ${(error as Error).message}`);
        }
      }
      if (failed > 0) throw new CliError(`${failed} of ${apps.length} backups failed`);
      return EXIT.ok;
    });
  }
  const id = oneApp(positionals, BACKUP_USAGE);
  return operator(async () => {
    const client = clientFor(values);
    return follow(
      client,
      id,
      () => client.call("backup.run", { id, ...(target ? { target } : {}) }),
      values,
      BACKUP_USAGE,
    );
  });
}

export async function runBackups(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    { json: { type: "boolean" }, target: { type: "string" } },
    BACKUPS_USAGE,
  );
  if (values.help) {
    console.log(BACKUPS_USAGE);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError(`unexpected argument '${positionals[1]}'\n\n${BACKUPS_USAGE}`);
  const id = positionals[0];
  const target = values.target as string | undefined;
  return operator(async () => {
    const result = await clientFor(values).call("backup.snapshots", {
      ...(id ? { id } : {}),
      ...(target ? { target } : {}),
    });
    if (values.json) printJson(result);
    else if (result.snapshots.length === 0)
      out(`no snapshots${id ? ` of ${id}` : ""} on target ${result.target}`);
    else
      out(
        table(
          ["SNAPSHOT", "TIME", "APP", "VERSION", "TAKEN"],
          result.snapshots.map((s) => [
            s.shortId,
            s.time.replace(/\.\d+/, ""),
            s.appId,
            s.version ?? "-",
            s.preRestore ? "before a restore" : "backup",
          ]),
        ),
      );
    return EXIT.ok;
  });
}

export async function runRestore(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    { ...FOLLOW_OPTIONS, snapshot: { type: "string" }, target: { type: "string" } },
    RESTORE_USAGE,
  );
  if (values.help) {
    console.log(RESTORE_USAGE);
    return 0;
  }
  const id = oneApp(positionals, RESTORE_USAGE);
  const snapshot = values.snapshot as string | undefined;
  const target = values.target as string | undefined;
  return operator(async () => {
    const client = clientFor(values);
    return follow(
      client,
      id,
      () =>
        client.call("backup.restore", {
          id,
          ...(snapshot ? { snapshot } : {}),
          ...(target ? { target } : {}),
        }),
      values,
      RESTORE_USAGE,
    );
  });
}
