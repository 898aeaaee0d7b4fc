/**
 * Variable interpolation as the compose specification defines it (its "Interpolation" chapter):
 * `$NAME` and `${NAME}`; `${NAME:-default}` / `${NAME-default}` (default when unset or empty /
 * unset), `${NAME:?message}` / `${NAME?message}` (an error when unset or empty / unset),
 * `${NAME:+alternative}` / `${NAME+alternative}` (the alternative when set and non-empty / set);
 * operands may hold further interpolations (`${A:-${B:-x}}`), evaluated only when used; `$$` is a
 * literal `$`; a `$` that starts no valid reference stays as it is. An unset variable without a
 * default becomes the empty string (the spec: "warn the user and substitute an empty string").
 *
 * A tokenizer, not a regular expression: braces nest, and an unterminated `${` is an error that
 * says where. Pure: the caller says what each variable is.
 */

/** What a variable is: its value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** How one reference was answered, for the import report. */
export type Reference = {
  name: string;
  /** `${A:-x}` → ":-"; a plain `$A` or `${A}` → "". */
  operator: "" | ":-" | "-" | ":?" | "?" | ":+" | "+";
  /** Whether the variable was set (to anything, the empty string included). */
  set: boolean;
  /** The text the reference became. */
  value: string;
  /** The reference was the whole text (`${DB_PASSWORD}`), not a part of it. */
  whole: boolean;
};

export type Interpolated =
  | { ok: true; value: string; references: Reference[] }
  | { ok: false; error: string };

const NAME_START = /[_a-zA-Z]/;
const NAME_PART = /[_a-zA-Z0-9]/;
const OPERATORS = [":-", ":?", ":+", "-", "?", "+"] as const;

/** The deepest nesting of `${…}` inside one value: a guard against crafted input. */
const MAX_DEPTH = 20;

export function interpolate(text: string, lookup: Lookup): Interpolated {
  try {
    const references: Reference[] = [];
    const value = expand(text, lookup, references, 0);
    if (references.length === 1 && isWholeReference(text)) (references[0] as Reference).whole = true;
    return { ok: true, value, references };
  } catch (error) {
    if (error instanceof InterpolationError) return { ok: false, error: error.message };
    throw error;
  }
}

class InterpolationError extends Error {}

/** `$A` or `${A…}` and nothing else around it. */
function isWholeReference(text: string): boolean {
  if (!text.startsWith("$") || text.startsWith("$$")) return false;
  if (text[1] === "{") return closingBrace(text, 2) === text.length - 1;
  return text.length > 1 && [...text.slice(1)].every((c, i) => (i === 0 ? NAME_START : NAME_PART).test(c));
}

/** The index of the `}` that closes a `${` whose content starts at `from`, or -1. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "$" && text[i + 1] === "$") {
      i++;
      continue;
    }
    if (c === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function expand(text: string, lookup: Lookup, references: Reference[], depth: number): string {
  if (depth > MAX_DEPTH) throw new InterpolationError(`interpolations nested more than ${MAX_DEPTH} deep`);
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
    } else if (next === "{") {
      const end = closingBrace(text, i + 2);
      if (end < 0)
        throw new InterpolationError(`\`\${\` at character ${i + 1} is never closed: add the \`}\``);
      out += braced(text.slice(i + 2, end), lookup, references, depth);
      i = end + 1;
    } else if (next !== undefined && NAME_START.test(next)) {
      let end = i + 2;
      while (end < text.length && NAME_PART.test(text[end] as string)) end++;
      const name = text.slice(i + 1, end);
      const value = lookup(name);
      references.push({ name, operator: "", set: value !== undefined, value: value ?? "", whole: false });
      out += value ?? "";
      i = end;
    } else {
      // Not a reference (`$1`, `$ `, a trailing `$`): kept as written.
      out += "$";
      i++;
    }
  }
  return out;
}

/** The inside of `${…}`: a name, then optionally an operator and its operand. */
function braced(inner: string, lookup: Lookup, references: Reference[], depth: number): string {
  let end = 0;
  if (!NAME_START.test(inner[0] ?? ""))
    throw new InterpolationError(
      `\`\${${inner}}\` does not start with a variable name (letters, digits and _, not starting with a digit)`,
    );
  while (end < inner.length && NAME_PART.test(inner[end] as string)) end++;
  const name = inner.slice(0, end);
  const rest = inner.slice(end);
  const operator = OPERATORS.find((op) => rest.startsWith(op));
  if (rest !== "" && operator === undefined)
    throw new InterpolationError(
      `\`\${${inner}}\` is not a supported interpolation: after the name, only :-, -, :?, ?, :+ or + may follow (shell features such as \${A/x/y} are not part of compose)`,
    );
  const operand = operator ? rest.slice(operator.length) : "";
  const raw = lookup(name);
  const set = raw !== undefined;
  const nonEmpty = set && raw !== "";
  let value: string;
  switch (operator) {
    case undefined:
      value = raw ?? "";
      break;
    case ":-":
      value = nonEmpty ? (raw as string) : expand(operand, lookup, references, depth + 1);
      break;
    case "-":
      value = set ? (raw as string) : expand(operand, lookup, references, depth + 1);
      break;
    case ":?":
    case "?":
      if (operator === ":?" ? !nonEmpty : !set) {
        const message = expand(operand, lookup, [], depth + 1);
        throw new InterpolationError(
          `required variable ${name} is ${set ? "empty" : "not set"}${message ? `: ${message}` : ""}`,
        );
      }
      value = raw as string;
      break;
    case ":+":
      value = nonEmpty ? expand(operand, lookup, references, depth + 1) : "";
      break;
    case "+":
      value = set ? expand(operand, lookup, references, depth + 1) : "";
      break;
  }
  references.push({ name, operator: operator ?? "", set, value, whole: false });
  return value;
}
