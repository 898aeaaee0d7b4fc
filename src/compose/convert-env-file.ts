/**
 * A service's `env_file` values become an env_file of the app (manifest/env-file.ts) rather than
 * `environment` entries: the packager keeps editing one file of settings, as with Compose. What the
 * importer converted stays converted (a password made a generated secret is a `${secret:…}`
 * reference, a literal `${` is `$${`); a value the format cannot hold on one line, or a whole secret
 * (`{ secret }`), stays in `environment`.
 */
import type { AppDataFile } from "./convert-configs.ts";
import type { Conversion } from "./convert-context.ts";
import type { Container } from "./convert-service.ts";
import type { ProjectService } from "./project.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: a line break or control cannot be on one line
const NOT_ONE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Moves the values `service` took from its env files into the app's env file for `key`, if any. */
export function moveEnvFileValues(
  conversion: Conversion,
  service: ProjectService,
  key: string,
  container: Container,
): AppDataFile | undefined {
  const lines: string[] = [];
  for (const [name, entry] of service.environment) {
    const value = container.environment[name];
    if (entry.from !== "env_file" || value === undefined || typeof value === "object") continue;
    const text = String(value);
    if (NOT_ONE_LINE.test(text)) continue;
    // One pair of enclosing quotes is removed when the file is read: a value that starts with one
    // keeps it inside another pair.
    lines.push(`${name}=${/^["']/.test(text) ? `"${text}"` : text}`);
    delete container.environment[name];
  }
  if (lines.length === 0) return undefined;
  const path = `files/env/${key}.env`;
  container.env_file = [path];
  conversion.note(
    "info",
    service,
    ["env_file"],
    `the values of its env files are in ${path}, read at install as the container's env_file`,
  );
  return {
    path,
    content: `# The env files of service ${service.name}, as imported (NAME=value; see docs/manifest.md).\n${lines.join("\n")}\n`,
  };
}
