/** `archy available`: the apps the daemon's sources offer for install, with update availability. */
import type { AvailableApp } from "../client.ts";
import {
  CONNECTION_USAGE,
  clientFor,
  EXIT_CODES_USAGE,
  noArguments,
  operator,
  parseOperator,
  printJson,
  table,
} from "../operator.ts";

const USAGE = `Usage: archy available [--json] [--url URL] [--token-file FILE]

Lists the apps that can be installed (from the daemon's --apps-dir and other sources): id, version,
whether (and which version) is installed, and whether an update is offered.

  --json              print the API's package.available result
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  noArguments(positionals, USAGE);
  return operator(async () => {
    const apps = await clientFor(values).call<AvailableApp[]>("package.available");
    if (values.json) {
      printJson(apps);
      return 0;
    }
    if (apps.length === 0) {
      console.log("no apps available: start the daemon with --apps-dir DIR (a directory of app directories)");
      return 0;
    }
    console.log(
      table(
        ["APP", "VERSION", "INSTALLED", "NAME", "DESCRIPTION"],
        [...apps]
          .sort((a, b) => a.id.localeCompare(b.id))
          .map((app) => [
            app.id,
            app.version,
            app.installedVersion === null
              ? "-"
              : `${app.installedVersion}${app.updateAvailable ? " (update available)" : ""}`,
            app.name,
            app.description.length > 60 ? `${app.description.slice(0, 57)}...` : app.description,
          ]),
      ),
    );
    return 0;
  });
}
