/** `archy status APP`: one app in detail: containers, health, reason, URLs, recent operations. */
import { memorySize } from "../../manifest/schema.ts";
import { type AppView, CODES, type DaemonClient, type OperationSummary, RpcFailure } from "../client.ts";
import {
  ago,
  CONNECTION_USAGE,
  clientFor,
  duration,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
  printJson,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy status APP [--json] [--url URL] [--token-file FILE]

Shows one installed app: its phase and desired state, the reason (what it waits for, the last
error), how old the last observation is, its UI addresses, where it comes from (source, and who
signed it), its alerts (a failed or overdue backup), the permissions it asks for and whether each is approved, each container (state,
health, start, exit code) and its recent operations.

  --json              print the API's package.get result (with "operations" when the daemon lists them)
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const RECENT_OPERATIONS = 5;

/** The app's recent operations, newest first; undefined when this daemon cannot list them. */
export async function recentOperations(
  client: DaemonClient,
  id: string,
  limit = RECENT_OPERATIONS,
): Promise<OperationSummary[] | undefined> {
  try {
    return await client.call("operation.list", { appId: id, limit });
  } catch (error) {
    if (
      error instanceof RpcFailure &&
      (error.code === CODES.methodNotFound || error.code === CODES.invalidParams)
    )
      return undefined;
    throw error;
  }
}

export function describeApp(
  app: AppView,
  operations: OperationSummary[] | undefined,
  now = Date.now(),
): string {
  const lines: string[] = [];
  lines.push(`${app.id} ${app.version}${app.name && app.name !== app.id ? ` (${app.name})` : ""}`);
  const field = (name: string, value: string) => lines.push(`  ${`${name}:`.padEnd(10)} ${value}`);
  field("phase", app.phase === app.desired ? app.phase : `${app.phase} (desired: ${app.desired})`);
  if (app.reason) field("reason", app.reason);
  for (const alert of app.alerts ?? []) field("ALERT", alert.message);
  field("observed", app.observedAgeMs === null ? "never" : ago(now - app.observedAgeMs, now));
  for (const ui of app.interfaces)
    field(ui.name === "ui" ? "url" : `url ${ui.name}`, ui.url ?? "(not published)");
  field("source", app.publisher ? `${app.source}, signed by ${app.publisher}` : app.source);
  for (const limit of app.memoryLimits ?? [])
    field(
      `memory ${limit.container}`,
      `${memorySize(limit.bytes)}${limit.enforced === false ? ` (limit not enforced: ${limit.why})` : limit.enforced === null ? " (not known yet whether it is enforced: Podman is not connected)" : ""}`,
    );
  if (app.permissions.length > 0) {
    lines.push("", "permissions:");
    const width = Math.max(...app.permissions.map((p) => p.name.length));
    for (const p of app.permissions)
      lines.push(
        `  ${p.name.padEnd(width)}  ${p.description}`,
        `  ${"".padEnd(width)}  ${
          p.approved
            ? `approved ${p.approvedBy === "upgrade" ? "(granted before approvals existed, kept at the upgrade) " : ""}${ago(p.approvedAt, now)}`
            : `NOT APPROVED: ${app.id} does not run until it is (\`archy approve ${app.id}\`)`
        }; why: ${p.reason}`,
      );
  }
  lines.push("");
  if (app.containers.length === 0) lines.push("containers: none observed");
  else
    lines.push(
      "containers:",
      indent(
        table(
          ["KEY", "NAME", "STATE", "HEALTH", "STARTED", "RESTARTS", "EXIT"],
          app.containers.map((c) => [
            c.key,
            c.name,
            c.state,
            c.health,
            c.startedAt ? ago(c.startedAt, now) : "-",
            String(c.restarts),
            c.state === "running" ? "-" : String(c.exitCode),
          ]),
        ),
      ),
    );
  if (operations && operations.length > 0) {
    lines.push(
      "",
      "recent operations:",
      indent(
        table(
          ["KIND", "STATE", "STARTED", "TOOK", "OPERATION", "ERROR"],
          operations.map((o) => [
            o.kind,
            o.state,
            ago(o.createdAt, now),
            o.finishedAt ? duration(o.finishedAt - o.createdAt) : "-",
            o.id,
            o.error ?? "",
          ]),
        ),
      ),
    );
  }
  return lines.join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = oneApp(positionals, USAGE);
  return operator(async () => {
    const client = clientFor(values);
    const app = await client.call("package.get", { id });
    const operations = await recentOperations(client, id);
    if (values.json) printJson(operations ? { ...app, operations } : app);
    else console.log(describeApp(app, operations));
    return 0;
  });
}
