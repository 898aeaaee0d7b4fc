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

const USAGE = `Usage: archy credentials APP [--json] [--url URL] [--token-file FILE]

Prints the logins the app's manifest marks for display (label, user name, generated password).
Secrets are never shown anywhere else; this asks for them explicitly.

  --json              print the API's package.credentials result
${CONNECTION_USAGE}

${EXIT_CODES_USAGE}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOperator(argv, { json: { type: "boolean" } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = oneApp(positionals, USAGE);
  return operator(async () => {
    const credentials = await clientFor(values).call("package.credentials", { id });
    if (values.json) {
      printJson(credentials);
      return 0;
    }
    if (credentials.length === 0) {
      console.log(`${id} has no credentials to show (its manifest marks none)`);
      return 0;
    }
    console.log(
      table(
        ["LABEL", "USERNAME", "PASSWORD"],
        credentials.map((c) => [c.label, c.username ?? "-", c.password ?? "(not generated yet)"]),
      ),
    );
    return 0;
  });
}
