/**
 * The operator's approval of an app's permissions on the command line: the list in plain words,
 * then a question on a terminal, or `--approve all` / `--approve NAME,NAME` for scripts. What is
 * approved is what the daemon showed: each permission with its content (docs/manifest.md).
 */
import { createInterface } from "node:readline/promises";
import type { Approval } from "../orchestrator/approvals.ts";
import { UsageError } from "./args.ts";
import { CliError, type PermissionView } from "./client.ts";

/** `--approve`'s value: `all`, or permission names separated by commas. */
export type ApproveChoice = "all" | string[];

export function parseApprove(value: string | undefined, usage: string): ApproveChoice | undefined {
  if (value === undefined) return undefined;
  if (value === "all") return "all";
  const names = value.split(",").map((name) => name.trim());
  // A permission's name, or `interface.<name>` for what an interface opens (manifest/access.ts).
  if (names.some((name) => !/^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)?$/.test(name)))
    throw new UsageError(
      `--approve: "${value}" is not \`all\` nor permission names separated by commas (e.g. --approve media,radio or --approve interface.admin)\n\n${usage}`,
    );
  return names;
}

/** The permissions, one per line with what they grant and why, for the operator. */
function describePermissions(permissions: readonly PermissionView[]): string {
  const width = Math.max(...permissions.map((p) => p.name.length));
  return permissions
    .map((p) => `  ${p.name.padEnd(width)}  ${p.description}\n  ${"".padEnd(width)}  why: ${p.reason}`)
    .join("\n");
}

/**
 * The approvals `choice` gives of the permissions an app needs approved: all of them, or exactly
 * those named. A name the app does not ask for, or one it asks for and the choice leaves out, is
 * refused: the operator approves what the app asks for, no more and no less.
 */
function chosen(appId: string, needed: readonly PermissionView[], choice: ApproveChoice): Approval[] {
  const names = needed.map((p) => p.name);
  if (choice !== "all") {
    const unknown = choice.filter((name) => !names.includes(name));
    if (unknown.length > 0)
      throw new CliError(
        `--approve names ${unknown.join(", ")}, which ${appId} does not ask for (it asks for ${names.join(", ")})`,
        { hint: `approve what it asks for: --approve ${names.join(",")}` },
      );
    const missing = needed.filter((p) => !choice.includes(p.name));
    if (missing.length > 0)
      throw new CliError(`${appId} also asks for:\n${describePermissions(missing)}`, {
        hint: `approve them too (--approve ${names.join(",")}, or --approve all), or do not install it`,
      });
  }
  return needed.map(({ name, content }) => ({ name, content }));
}

/** Whether both ends are a terminal: only then is the operator asked. */
function interactive(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/**
 * The approvals for permissions the daemon says `appId` needs: from `--approve`, or asked on a
 * terminal (nothing is approved unless the operator answers yes); else a refusal listing them.
 */
export async function approvalsFor(
  appId: string,
  needed: readonly PermissionView[],
  choice: ApproveChoice | undefined,
  retry: string,
): Promise<Approval[]> {
  const listed = `${appId} asks for ${needed.length === 1 ? "this permission" : `these ${needed.length} permissions`}:\n${describePermissions(needed)}`;
  if (choice !== undefined) {
    const approvals = chosen(appId, needed, choice);
    process.stdout.write(`${listed}\napproved with --approve\n`);
    return approvals;
  }
  if (!interactive())
    throw new CliError(`${listed}\nnot approved: nothing was changed`, {
      hint: `approve them: \`${retry} --approve ${needed.map((p) => p.name).join(",")}\` (or --approve all)`,
    });
  process.stdout.write(`${listed}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(
      `Approve ${needed.length === 1 ? "it" : "them"} for ${appId}? [y/N] `,
    );
    if (!/^y(es)?$/i.test(answer.trim()))
      throw new CliError("not approved: nothing was changed", {
        hint: `\`${retry}\` asks again; \`archy available\` lists what each app asks for`,
      });
  } finally {
    prompt.close();
  }
  return needed.map(({ name, content }) => ({ name, content }));
}
