/** `archy ls`: the installed apps as the daemon last observed them (never waiting for Podman). */
import type { AppView } from "../client.ts";

type AlertView = AppView["alerts"][number];

import {
  ago,
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
  printJson,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy ls [--json] [--url URL] [--token-file FILE]

Lists the installed apps: version, phase (what the app is doing), desired state (what the operator
asked for), containers up of all (a job run to completion counts as up), how old the last observation is, where the app comes from
(a catalog, or a local manifest) and its UI address.
Apps with a reason (what they wait for, the last error) get it on a line below the table, and
every alert (a failed or overdue backup, a failed check of a backup target) a line starting ALERT.

  --json              print the API's package.list result
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

export function firstUrl(app: AppView): string {
  return app.interfaces.find((i) => i.url)?.url ?? "-";
}

/** Where an app comes from, short: `catalog:official`, or `local` (the directory is in `status`). */
export function sourceName(source: string): string {
  return source.startsWith("local:") ? "local" : source;
}

/** Containers running of those that keep running; a job that has run to completion counts as up. */
export function containersUp(app: AppView): string {
  const done = (c: AppView["containers"][number]) => c.job && c.state === "exited" && c.exitCode === 0;
  const up = app.containers.filter((c) => c.state === "running" || done(c)).length;
  return `${up}/${app.containers.length}`;
}

/** The alerts under the table: each app's, then the targets' own (a failed check). */
export function alertLines(apps: readonly AppView[], node: readonly AlertView[]): string[] {
  return [
    ...apps.flatMap((app) => app.alerts.map((alert) => `ALERT ${app.id}: ${alert.message}`)),
    ...node
      .filter((alert) => alert.appId === null)
      .map((alert) => `ALERT target ${alert.target}: ${alert.message}`),
  ];
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  return operator(async () => {
    const client = clientFor(values);
    const apps = await client.call("package.list");
    if (values.json) {
      printJson(apps);
      return 0;
    }
    if (apps.length === 0) {
      console.log("no apps installed: `archy available` lists what can be, `archy install APP` installs one");
      // A target's own alert (a failed check) is news even on a node without apps.
      for (const line of alertLines([], (await client.call("system.node")).alerts)) console.log(line);
      return 0;
    }
    const now = Date.now();
    const sorted = [...apps].sort((a, b) => a.id.localeCompare(b.id));
    console.log(
      table(
        ["APP", "VERSION", "PHASE", "DESIRED", "CONTAINERS", "OBSERVED", "SOURCE", "URL"],
        sorted.map((app) => [
          app.id,
          app.version,
          app.phase,
          app.desired,
          containersUp(app),
          app.observedAgeMs === null ? "never" : ago(now - app.observedAgeMs, now),
          sourceName(app.source),
          firstUrl(app),
        ]),
      ),
    );
    const reasons = sorted.filter((app) => app.reason);
    if (reasons.length > 0) {
      console.log("");
      for (const app of reasons) console.log(`${app.id}: ${app.reason}`);
    }
    const alerts = alertLines(sorted, (await client.call("system.node")).alerts);
    if (alerts.length > 0) console.log(["", ...alerts].join("\n"));
    return 0;
  });
}
