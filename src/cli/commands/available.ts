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
import { sourceName } from "./ls.ts";

const USAGE = `Usage: archy available [--json] [--url URL] [--token-file FILE]

Lists the apps that can be installed (from the daemon's --apps-dir and its catalogs): id, version,
whether (and which version) is installed and an update is offered, where it comes from (a catalog,
or a local manifest), and the permissions it asks for (\`archy install\` lists them in plain words
and asks). An update that would switch an installed app to another source or signer is named below
the table: it needs \`archy update APP --switch-source\`.

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
    const apps = await clientFor(values).call("package.available");
    if (values.json) {
      printJson(apps);
      return 0;
    }
    if (apps.length === 0) {
      console.log("no apps available: start the daemon with --apps-dir DIR (a directory of app directories)");
      return 0;
    }
    const sorted = [...apps].sort((a, b) => a.id.localeCompare(b.id));
    console.log(
      table(
        ["APP", "VERSION", "INSTALLED", "SOURCE", "PERMISSIONS", "NAME", "DESCRIPTION"],
        sorted.map((app) => [
          app.id,
          app.version,
          app.installedVersion === null
            ? "-"
            : `${app.installedVersion}${app.updateAvailable ? " (update available)" : ""}`,
          sourceName(app.source),
          app.permissions.length === 0 ? "-" : app.permissions.map((p) => p.name).join(","),
          app.name,
          app.description.length > 60 ? `${app.description.slice(0, 57)}...` : app.description,
        ]),
      ),
    );
    // An update that comes from elsewhere is said out loud, with what it takes to accept it.
    const switching = sorted.filter((app) => app.installed && app.sourceChange);
    if (switching.length > 0) console.log("");
    for (const app of switching)
      console.log(
        `${app.id}: updating would ${app.sourceChange}; \`archy update ${app.id} --switch-source\` if you want that`,
      );
    return 0;
  });
}
