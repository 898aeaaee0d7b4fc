/**
 * One compose file, from text to data: YAML with merge keys and anchors (as Compose reads it),
 * interpolated value by value on the document tree (keys never: the specification interpolates
 * values only), then checked against the specification's shapes. Every problem is placed at its
 * line; every reference to a variable is kept with its place, for the report. Pure.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from "yaml";
import type { z } from "zod";
import { formatPath, type PathSegment } from "../manifest/issues.ts";
import { type Locator, makeLocator } from "../manifest/parse.ts";
import { closest } from "../manifest/suggest.ts";
import { interpolate, type Lookup, type Reference } from "./interpolate.ts";
import type { ReportLine } from "./report.ts";
import { type ComposeFile, ComposeSchema, SERVICE_KEYS } from "./spec.ts";

/** Compose files are small; anything bigger is a mistake (or an attack on the parser). */
export const MAX_COMPOSE_BYTES = 1024 * 1024;
/** Alias expansions a file may make (YAML's "billion laughs" guard). */
const MAX_ALIAS_COUNT = 1000;

/** A variable reference and where it stands. */
export type PlacedReference = Reference & { file: string; line: number; column: number; path: string };

export type ParsedCompose =
  | { ok: true; data: ComposeFile; locate: Locator; references: PlacedReference[] }
  | { ok: false; lines: ReportLine[] };

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

const TOP_KEYS = [
  "version",
  "name",
  "include",
  "services",
  "models",
  "networks",
  "volumes",
  "secrets",
  "configs",
];

function errorAt(
  file: string,
  line: number,
  column: number,
  subject: string,
  message: string,
  action: string,
): ReportLine {
  return { level: "error", file, line, column, subject, message, action };
}

export function parseCompose(text: string, file: string, lookup: Lookup): ParsedCompose {
  if (Buffer.byteLength(text, "utf8") > MAX_COMPOSE_BYTES)
    return fail(
      errorAt(
        file,
        0,
        0,
        "(file)",
        "the file is larger than 1 MiB",
        "a compose file is a small YAML file: pass the compose file itself",
      ),
    );
  const binary = NOT_TEXT.exec(text);
  if (binary) {
    const before = text.slice(0, binary.index).split("\n");
    return fail(
      errorAt(
        file,
        before.length,
        (before.at(-1)?.length ?? 0) + 1,
        "(file)",
        "the file is not text (it holds control characters or bytes that are not UTF-8)",
        "pass a docker-compose YAML file",
      ),
    );
  }
  try {
    return parseText(text, file, lookup);
  } catch (error) {
    // The YAML parser recurses once per nesting level: thousands of `[` exhaust the stack.
    if (!(error instanceof RangeError)) throw error;
    return fail(
      errorAt(
        file,
        1,
        1,
        "(file)",
        "the document is nested too deeply to be read",
        "a compose file needs only a few levels of nesting",
      ),
    );
  }
}

function fail(...lines: ReportLine[]): ParsedCompose {
  return { ok: false, lines };
}

function parseText(text: string, file: string, lookup: Lookup): ParsedCompose {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { merge: true, prettyErrors: false, schema: "core", lineCounter });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntax = doc.errors.map((error) => {
    const { line, column } = at(error.pos[0]);
    const message =
      error.code === "MULTIPLE_DOCS"
        ? "the file holds more than one YAML document"
        : `YAML ${error.message.split("\n")[0]}`;
    return errorAt(
      file,
      line,
      column,
      "(file)",
      message,
      "fix the YAML at this position: a compose file is one YAML document",
    );
  });
  if (syntax.length > 0) return fail(...syntax);
  if (!isMap(doc.contents))
    return fail(
      errorAt(
        file,
        1,
        1,
        "(file)",
        "this is not a compose file: it is not a YAML mapping",
        "pass a docker-compose file, with `services:` at the top",
      ),
    );
  const topKeys = doc.contents.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : ""));
  if (!topKeys.includes("services") && !topKeys.includes("include"))
    return fail(
      errorAt(
        file,
        1,
        1,
        "(file)",
        `this is not a compose file: it has no \`services\` (its keys: ${topKeys.slice(0, 8).join(", ") || "none"})`,
        "pass a docker-compose file, with `services:` at the top",
      ),
    );

  const references: PlacedReference[] = [];
  const problems: ReportLine[] = [];
  interpolateTree(doc.contents, [], (scalar, path) => {
    const extension = path.some((segment) => typeof segment === "string" && segment.startsWith("x-"));
    const result = interpolate(scalar.value as string, lookup);
    const { line, column } = at(scalar.range?.[0] ?? 0);
    if (!result.ok) {
      // Extensions are another tool's text (descriptions may hold a stray `${`): left as written.
      if (!extension)
        problems.push(
          errorAt(
            file,
            line,
            column,
            formatPath(path),
            `cannot interpolate: ${result.error}`,
            "write a literal $ as $$, or fix the reference",
          ),
        );
      return;
    }
    scalar.value = result.value;
    if (!extension)
      for (const reference of result.references)
        references.push({ ...reference, file, line, column, path: formatPath(path) });
  });
  if (problems.length > 0) return fail(...problems);

  const locate = makeLocator(doc.contents as Node, at);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof RangeError) throw error;
    return fail(errorAt(file, 1, 1, "(file)", (error as Error).message, "use fewer YAML aliases"));
  }
  const parsed = ComposeSchema.safeParse(data);
  if (!parsed.success)
    return fail(
      ...parsed.error.issues.slice(0, 50).map((issue) => {
        const { line, column } = locate(issue.path as PathSegment[], isUnknownKey(issue) ? "key" : "value");
        return errorAt(file, line, column, formatPath(issue.path as PathSegment[]), ...explain(issue, data));
      }),
    );
  return { ok: true, data: parsed.data, locate, references };
}

/** Calls `visit` on every string scalar that is a value (not a key), with its path. */
function interpolateTree(
  node: unknown,
  path: PathSegment[],
  visit: (scalar: Scalar, path: PathSegment[]) => void,
  seen = new Set<unknown>(),
): void {
  if (seen.has(node)) return;
  seen.add(node);
  if (isScalar(node)) {
    if (typeof node.value === "string") visit(node, path);
  } else if (isMap(node)) {
    for (const pair of node.items)
      if (isPair(pair))
        interpolateTree(
          pair.value,
          [...path, isScalar(pair.key) ? String(pair.key.value) : "?"],
          visit,
          seen,
        );
  } else if (isSeq(node))
    for (const [index, item] of node.items.entries()) interpolateTree(item, [...path, index], visit, seen);
}

function isUnknownKey(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === "custom" && (issue.params as { unknownKey?: string } | undefined)?.unknownKey !== undefined
  );
}

/** What is wrong, and the fix, for one schema issue. */
function explain(issue: z.core.$ZodIssue, data: unknown): [string, string] {
  const path = issue.path as PathSegment[];
  if (isUnknownKey(issue)) {
    const key = String(path.at(-1));
    const candidates =
      path.length === 1 ? TOP_KEYS : path[0] === "services" && path.length === 3 ? SERVICE_KEYS : [];
    const guess = closest(key, candidates);
    const where =
      path.length === 1
        ? "at the top of a compose file"
        : path[0] === "services" && path.length === 3
          ? "in a service"
          : "here";
    return [
      `unknown key \`${key}\`: the compose specification has no such key ${where}`,
      guess
        ? `did you mean \`${guess}\`? (extensions are written x-${key})`
        : `remove it, or write it as an extension: x-${key}`,
    ];
  }
  const value = path.reduce<unknown>(
    (current, segment) => (current as Record<string | number, unknown> | undefined)?.[segment],
    data,
  );
  const shown = value === undefined ? "nothing" : JSON.stringify(value)?.slice(0, 60);
  if (issue.code === "invalid_value")
    return [
      `${shown} is not allowed here`,
      `use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
    ];
  if (issue.code === "invalid_type" && value === undefined)
    return [`\`${String(path.at(-1))}\` is required here`, "add it, as the compose specification describes"];
  if (issue.code === "invalid_format")
    return [`${shown} ${issue.message}`, "see the compose specification for this field"];
  return [
    `${shown} is not what the compose specification allows here (${issue.message})`,
    "see the compose specification for this field",
  ];
}
