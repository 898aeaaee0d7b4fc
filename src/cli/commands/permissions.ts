/**
 * `archy approve APP [PERMISSION...] [--all]` and `archy revoke APP PERMISSION`: the operator's
 * approval of an installed app's permissions, given again or withdrawn; then, like every lifecycle
 * command, the operation is followed until the app has reached what was asked.
 */
import { type ApproveChoice, approvalsFor } from "../approvals.ts";
import { UsageError } from "../args.ts";
import type { Accepted } from "../client.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  oneApp,
  operator,
  parseOperator,
} from "../operator.ts";
import { FOLLOW_OPTIONS, FOLLOW_USAGE, Follower, followAccepted, parseTimeout } from "./lifecycle.ts";

const APPROVE_USAGE = `Usage: archy approve APP [PERMISSION...] [--all] [--no-wait] [--timeout SECONDS] [--url URL] [--token-file FILE]

Approves the permissions APP's manifest asks for that are not approved (one was revoked, or a new
version gave a name another meaning): lists them in plain words and asks on a terminal. APP then
goes back to what was asked of it (running, or stopped). \`archy status APP\` shows them all.

  PERMISSION...       approve exactly these (every one not approved must be named), without a question
  --all               approve every one not approved, without a question
${FOLLOW_USAGE}
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const REVOKE_USAGE = `Usage: archy revoke APP PERMISSION [--no-wait] [--timeout SECONDS] [--url URL] [--token-file FILE]

Withdraws your approval of one of APP's permissions: APP stops and stays stopped (across restarts
and reboots) until \`archy approve APP\` approves it again. Its data is kept.

${FOLLOW_USAGE}
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Sends a request and follows the operation it starts, the way lifecycle commands do. */
async function send(
  values: { url?: unknown; "token-file"?: unknown; "no-wait"?: unknown; timeout?: unknown },
  id: string,
  usage: string,
  request: (client: ReturnType<typeof clientFor>) => Promise<Accepted | undefined>,
): Promise<number> {
  const timeoutMs = parseTimeout(values.timeout as string | undefined, usage);
  return operator(async () => {
    const client = clientFor(values);
    const wait = values["no-wait"] !== true;
    const follower = new Follower(client, id);
    if (wait) await follower.connect();
    let accepted: Accepted | undefined;
    try {
      accepted = await request(client);
    } finally {
      if (!accepted) follower.close();
    }
    if (!accepted) return 0;
    return followAccepted(client, follower, id, accepted, { wait, timeoutMs });
  });
}

export async function runApprove(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(
    argv,
    { ...FOLLOW_OPTIONS, all: { type: "boolean" } },
    APPROVE_USAGE,
  );
  if (values.help) {
    console.log(APPROVE_USAGE);
    return 0;
  }
  const [first, ...names] = positionals;
  const id = oneApp(first === undefined ? [] : [first], APPROVE_USAGE);
  if (values.all && names.length > 0)
    throw new UsageError(`give PERMISSION names or --all, not both\n\n${APPROVE_USAGE}`);
  const choice: ApproveChoice | undefined = values.all ? "all" : names.length > 0 ? names : undefined;
  return send(values, id, APPROVE_USAGE, async (client) => {
    const app = await client.call("package.get", { id });
    const needed = app.permissions.filter((p) => !p.approved);
    if (needed.length === 0) {
      out(
        `${id}: every permission it asks for is approved${app.permissions.length === 0 ? " (it asks for none)" : ""}`,
      );
      return undefined;
    }
    const approve = await approvalsFor(id, needed, choice, `archy approve ${id}`);
    return client.call("package.approve", { id, approve });
  });
}

export async function runRevoke(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, FOLLOW_OPTIONS, REVOKE_USAGE);
  if (values.help) {
    console.log(REVOKE_USAGE);
    return 0;
  }
  if (positionals.length !== 2)
    throw new UsageError(
      `${positionals.length < 2 ? "which app and which permission?" : `unexpected argument '${positionals[2]}'`}\n\n${REVOKE_USAGE}`,
    );
  const [first, permission] = positionals as [string, string];
  const id = oneApp([first], REVOKE_USAGE);
  return send(values, id, REVOKE_USAGE, (client) => client.call("package.revoke", { id, permission }));
}
