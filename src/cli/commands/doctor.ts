/** `archy doctor [--fix] [--json]`: check (and fix) what this host needs to run Archipelago. */
import { detectHost, hostChecks } from "../../host/checks.ts";
import { formatOutcome, formatSummary, jsonReport, runDoctor } from "../../host/doctor.ts";
import { parseCommandLine, UsageError } from "../args.ts";

const USAGE = `Usage: archy doctor [--fix] [--json]

Checks that this host can run Archipelago: packages, Podman configuration, users with
subordinate ids, rootless Podman, the Quadlet generator and the test image. Prints each
check as PASS or FAIL, and for failures the commands that fix them.

  --fix    as root, apply the fixes (idempotent: a second run changes nothing); as another
           user, apply only what that user can and print the rest
  --json   print the result as JSON ({ok, changed, checks: [...]}) instead of text

Exit status: 0 when every check passes (after fixes), 1 otherwise.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    { fix: { type: "boolean" }, json: { type: "boolean" } },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`doctor takes no arguments\n\n${USAGE}`);
  const host = detectHost();
  const options = { fix: values.fix === true, isRoot: host.isRoot };
  if (options.fix && !host.isRoot && !values.json) {
    console.log("doctor: not root: only fixes this user can apply are applied; the rest are printed.\n");
  }
  const outcomes = await runDoctor(hostChecks(host), {
    ...options,
    onOutcome: values.json ? undefined : (outcome) => console.log(formatOutcome(outcome, host.isRoot)),
  });
  if (values.json) console.log(JSON.stringify(jsonReport(outcomes), null, 2));
  else console.log(`\n${formatSummary(outcomes, options)}`);
  return outcomes.every((outcome) => outcome.status !== "fail") ? 0 : 1;
}
