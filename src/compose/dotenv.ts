/**
 * Environment files (`env_file:` and a project's `.env`) as the compose specification reads them:
 * `NAME=value` lines, `#` comments and blank lines ignored, an optional `export ` prefix;
 * unquoted values end at a ` #` comment and are interpolated; double-quoted values are
 * interpolated, take `\n`, `\r`, `\t`, `\\` and `\"` escapes and may span lines; single-quoted
 * values are literal (`\'` is a quote) and may span lines. `NAME` alone takes the variable's value
 * from the environment, and is left out when it has none. Pure.
 */
import { interpolate, type Lookup, type Reference } from "./interpolate.ts";

export type EnvEntry = { name: string; value: string; line: number; references: Reference[] };
export type EnvProblem = { line: number; message: string };
export type ParsedEnv = { entries: EnvEntry[]; problems: EnvProblem[] };

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', $: "$$" };

/**
 * Parses an environment file. Values refer to the file's earlier entries first, then to `lookup`
 * (so `B=${A}` after `A=1` is 1).
 */
export function parseEnvFile(text: string, lookup: Lookup): ParsedEnv {
  const entries: EnvEntry[] = [];
  const problems: EnvProblem[] = [];
  const own = new Map<string, string>();
  const scoped: Lookup = (name) => own.get(name) ?? lookup(name);
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const line = (lines[index] as string).trimStart();
    if (line === "" || line.startsWith("#")) continue;
    const body = line.startsWith("export ") ? line.slice("export ".length).trimStart() : line;
    const equals = body.indexOf("=");
    const name = (equals < 0 ? body : body.slice(0, equals)).trim();
    if (!NAME.test(name)) {
      problems.push({
        line: lineNumber,
        message: `\`${name}\` is not a variable name (letters, digits, _, . and -, not starting with a digit)`,
      });
      continue;
    }
    if (equals < 0) {
      const value = lookup(name);
      if (value !== undefined) own.set(name, value);
      if (value !== undefined) entries.push({ name, value, line: lineNumber, references: [] });
      continue;
    }
    let rest = body.slice(equals + 1);
    const quote = rest[0];
    let raw: string;
    let literal = false;
    if (quote === '"' || quote === "'") {
      // A quoted value may continue on the following lines until its closing quote.
      let text = rest.slice(1);
      let close = closingQuote(text, quote);
      while (close < 0 && index + 1 < lines.length) {
        index++;
        text += `\n${lines[index]}`;
        close = closingQuote(text, quote);
      }
      if (close < 0) {
        problems.push({
          line: lineNumber,
          message: `the value of ${name} opens a ${quote} that is never closed`,
        });
        break;
      }
      const inner = text.slice(0, close);
      if (quote === "'") {
        raw = inner.replace(/\\'/g, "'");
        literal = true;
      } else raw = inner.replace(/\\(.)/g, (all, c: string) => ESCAPES[c] ?? all);
      rest = text.slice(close + 1);
      const after = rest.trim();
      if (after !== "" && !after.startsWith("#"))
        problems.push({
          line: lineNumber,
          message: `text after the closing quote of ${name} (\`${after}\`): put a comment after a #, or quote the whole value`,
        });
    } else {
      const comment = rest.search(/\s#/);
      raw = (comment < 0 ? rest : rest.slice(0, comment)).trim();
    }
    if (literal) {
      own.set(name, raw);
      entries.push({ name, value: raw, line: lineNumber, references: [] });
      continue;
    }
    const result = interpolate(raw, scoped);
    if (!result.ok) {
      problems.push({ line: lineNumber, message: `${name}: ${result.error}` });
      continue;
    }
    own.set(name, result.value);
    entries.push({ name, value: result.value, line: lineNumber, references: result.references });
  }
  return { entries, problems };
}

/** The index of the quote that closes a value, skipping escaped ones; -1 when there is none. */
function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}
