/**
 * A container's `env_file`: `NAME=value` lines read from the app directory at install, stored with
 * the installed manifest and rendered as its `environment` values are (interpolation.ts: a value
 * may hold `${secret:…}`, `${export:…}` and `${app:…}` references; `$${` is a literal `${`). The
 * format is the platform's own, kept small so that it reads one way everywhere: blank lines and
 * lines starting with `#` are skipped; a value is the rest of the line, verbatim, except that one
 * pair of enclosing quotes (`"…"` or `'…'`) is removed; no `export` prefix, no escapes, no
 * continuation lines, no variables of the node. Pure.
 */
import { createHash } from "node:crypto";
import { checkValueTemplates, parseTemplate } from "./interpolation.ts";
import type { Manifest } from "./schema.ts";

/** An env_file holds configuration, not data: a bigger one is a mistake. */
export const ENV_FILE_MAX_BYTES = 64 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Controls other than tab: a value carrying them is a binary file or a terminal trick.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the class is what is refused
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export type EnvFileEntry = { name: string; value: string; line: number };
export type EnvFileProblem = { line: number; message: string; fix: string; rule: string };

/** The content of an installed app's env_file as stored, and the digest it is checked against at use. */
export type StoredEnvFile = { text: string; sha256: string };

export const envFileDigest = (text: string): string =>
  createHash("sha256").update(text, "utf8").digest("hex");

/** The entries of an env file in order, or the problems of its lines (each with its line number). */
export function parseEnvFile(text: string): { entries: EnvFileEntry[]; problems: EnvFileProblem[] } {
  const entries: EnvFileEntry[] = [];
  const problems: EnvFileProblem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const body = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = body.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const problem = (message: string, fix: string) =>
      problems.push({ line, message, fix, rule: "envfile.syntax" });
    if (CONTROL.test(body)) {
      problem(
        "the line holds a control character",
        "write the value as text (a secret belongs under `secrets`)",
      );
      continue;
    }
    const equals = body.indexOf("=");
    if (equals < 0) {
      problem(
        `${JSON.stringify(trimmed.slice(0, 40))} is not NAME=value`,
        "write NAME=value, or start a comment with #",
      );
      continue;
    }
    const name = body.slice(0, equals).trim();
    if (name.startsWith("export ")) {
      problem(
        `\`export\` is not part of the format`,
        `write ${name.slice("export ".length).trim()}=… without it`,
      );
      continue;
    }
    if (!NAME.test(name)) {
      problem(
        `${JSON.stringify(name)} is not an environment variable name`,
        "use letters, digits and _, not starting with a digit",
      );
      continue;
    }
    const first = seen.get(name);
    if (first !== undefined) {
      problem(`${name} is set again (first on line ${first})`, `keep one ${name}=… line`);
      continue;
    }
    seen.set(name, line);
    let value = body.slice(equals + 1);
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote))
      value = value.slice(1, -1);
    entries.push({ name, value, line });
  }
  return { entries, problems };
}

/**
 * The problems of an env file of `manifest` (its size is bounded where it is read: env-files-read.ts):
 * its syntax, and its values' `${…}` references as an `environment` value's are checked (a secret
 * the manifest declares, a dependency it has).
 */
export function checkEnvFile(manifest: Manifest, text: string): EnvFileProblem[] {
  const { entries, problems } = parseEnvFile(text);
  for (const entry of entries)
    for (const finding of checkValueTemplates(manifest, parseTemplate(entry.value)))
      problems.push({
        line: entry.line,
        message: `${entry.name}: ${finding.message}`,
        fix: finding.fix,
        rule: finding.rule,
      });
  return problems.sort((a, b) => a.line - b.line);
}
