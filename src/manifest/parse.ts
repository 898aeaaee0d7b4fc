/**
 * Turns manifest text into a typed, normalised `Manifest`, or into every problem found in it, each
 * placed at its line and column. Pure: the caller reads the file.
 */
import {
  type Document,
  type DocumentOptions,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  type ParseOptions,
  parseDocument,
  type SchemaOptions,
  visit,
  type YAMLMap,
} from "yaml";
import { explainIssue } from "./explain-issues.ts";
import { compareIssues, type Finding, formatPath, type ManifestIssue, type PathSegment } from "./issues.ts";
import { type Manifest, ManifestSchema } from "./schema.ts";
import { checkSemantics } from "./semantics.ts";

/** Manifests are small; anything bigger is a mistake or an attack. */
export const MAX_MANIFEST_BYTES = 256 * 1024;
const MAX_ALIASES = 50;

export type ManifestParseOptions = {
  /**
   * Rules whose findings do not make the manifest invalid (they are dropped). For manifests a node
   * already runs, validated when they were installed: see `STORED_MANIFEST_TOLERATED_RULES`.
   */
  tolerate?: ReadonlySet<string>;
};

/**
 * Rules added after apps may have been installed under the rules before them. An installed app that
 * breaks one keeps running as it did (it was valid, and its containers were made from it); `archy
 * app validate`, installs and updates enforce them. Without this a platform upgrade would turn such
 * an app `failed` and leave its containers unmanaged.
 */
export const STORED_MANIFEST_TOLERATED_RULES: ReadonlySet<string> = new Set([
  "yaml.literal", // unquoted numbers YAML reads differently (0755 → 755)
  "limits.stop-signal", // SIGKILL or SIGSTOP as the stop signal
  "limits.stop-timeout", // stop_timeout: 0
  "security.path", // mounts at / or in /proc, /sys, /dev; characters Podman and systemd read as more
  "naming.reserved", // ids and container names in the platform's own names (naming.ts)
  "limits.argument", // an argument or environment value over 32 KiB (Linux takes up to 128 KiB)
  "health.command", // a one-word health command with blanks: run literally by the plain backend
  "interp.syntax", // an environment value with a ${ that is no reference: rendered as the literal it was
]);

/**
 * The version of the rules that live in code rather than in the schema: the second level
 * (semantics.ts, security.ts, renderable.ts, host-paths.ts, naming.ts), parse.ts's own checks and
 * the transforms that normalise a manifest. Bump it when a change to one of them changes what
 * validates or what a manifest parses to: parsed forms kept in the store (manifest-cache.ts) made
 * under other rules are then parsed again, never trusted. A change to the schema itself, or to
 * `STORED_MANIFEST_TOLERATED_RULES`, needs no bump: the cache's key is derived from both.
 */
// 7: legacy data paths follow the allow-list of host-paths.ts (legacyDataPathProblem).
// 8: a port's `bind` is no longer filled in (an interface's port defaults to 127.0.0.1, any other
// to 0.0.0.0: manifest/access.ts), and interfaces have `auth` and `public_paths`.
// 9: a manifest's `backup` section is checked against its volumes, containers and hooks.
// 10: a health check's `interval` or `timeout` written alone sets the other's default.
// 11: a hook's `wait` step needs a container with a health check (health.hook-wait); jobs are
// waited for as `completed` only, with no health, interface or hook step (job.*).
// 12: `${…}` references in environment values are checked (interpolation.ts), and `$${` is `${`.
// 13: a version may end in a packaging revision (-r2: app-version.ts), and env_files are read and
// checked with the manifest (env-file.ts).
// 14: `${consumer:APP/NAME}` references, and `consumers` steps checked as hook steps are (consumers.ts).
export const MANIFEST_RULES_VERSION = 14;

export type ParseResult =
  | { ok: true; manifest: Manifest; locate: Locator }
  | { ok: false; issues: ManifestIssue[]; manifest?: undefined };

/** Finds the line and column of a field path in the source document. */
export type Locator = (
  path: readonly PathSegment[],
  at?: "key" | "value",
) => { line: number; column: number };

/**
 * YAML 1.2 core only, whatever the document's `%YAML` directive says: no merge keys, no `!!binary`,
 * `!!set`, `!!timestamp` or other tags that would turn values into something other than plain data.
 * Duplicate keys are found by `checkKeys` (the parser's own check is quadratic in the number of keys).
 */
const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  uniqueKeys: false,
  prettyErrors: false,
  strict: true,
  customTags: [],
  schema: "core",
  merge: false,
  resolveKnownTags: false,
};

/** Keys that name JavaScript object internals: refused everywhere, before the schema sees the data. */
const RESERVED_KEYS = ["__proto__", "constructor"];

export function parseManifest(text: string, file: string, options: ManifestParseOptions = {}): ParseResult {
  if (Buffer.byteLength(text, "utf8") > MAX_MANIFEST_BYTES) {
    return fail([
      issueAt(
        file,
        0,
        0,
        [],
        "the file is larger than 256 KiB",
        "a manifest is a small YAML file; remove embedded data",
        "yaml.size",
      ),
    ]);
  }
  try {
    return parseText(text, file, options.tolerate ?? new Set());
  } catch (error) {
    // The YAML parser recurses once per nesting level: thousands of `[` exhaust the stack.
    if (!isStackOverflow(error)) throw error;
    return fail([
      issueAt(
        file,
        1,
        1,
        [],
        "the document is nested too deeply to be read",
        "a manifest needs only a few levels of nesting; remove the deeply nested value",
        "yaml.depth",
      ),
    ]);
  }
}

/**
 * Whether `error` is the stack running out. V8 says so with a RangeError, or with a SyntaxError when
 * it runs out while compiling one of the parser's regular expressions (it depends on how deep the
 * stack already was: the same document can give either).
 */
function isStackOverflow(error: unknown): boolean {
  return (
    error instanceof RangeError ||
    (error instanceof SyntaxError && /Maximum call stack size exceeded/.test(error.message))
  );
}

/**
 * Bytes a text file does not hold: C0 controls other than tab and line breaks, DEL, and U+FFFD,
 * which stands for a byte sequence that is not UTF-8. The YAML parser would let some through.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/;

/**
 * A long chain of block indicators on one line (`- - - - …`): each opens a nesting level, and the
 * YAML lexer's cost grows with the square of their number (4000 take half a second). A manifest
 * never needs more than a handful.
 */
const INDICATOR_CHAIN = /(?:[-?:][ \t]+){100}/;

/**
 * Flow collections (`[`, `{`) nested deeper than this are refused before parsing: the parser
 * recurses once per level, so thousands of them take seconds and then exhaust the stack. A manifest
 * never needs more than a handful.
 */
const MAX_FLOW_DEPTH = 100;

/** The offset of the quote that closes the quoted scalar opening at `start` (or the text's end). */
function quotedEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return text.length;
}

/**
 * Where flow collections first nest deeper than MAX_FLOW_DEPTH, or -1. Quoted scalars and comments
 * are skipped, and a bracket counts only where a collection can start (not inside a plain word), so
 * brackets in values never count; a closing bracket in a plain word can only make the count lower.
 */
function deepFlowAt(text: string): number {
  let depth = 0;
  let opened = -2; // where the last collection opened: a token can start right after it
  const startsToken = (i: number) =>
    i === 0 || i - 1 === opened || " \t\r\n,:-?".includes(text[i - 1] as string);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === '"' || c === "'") && startsToken(i)) i = quotedEnd(text, i);
    else if (c === "#" && (i === 0 || " \t\r\n".includes(text[i - 1] as string))) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if ((c === "[" || c === "{") && startsToken(i)) {
      opened = i;
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return -1;
}

function positionIn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

function parseText(text: string, file: string, tolerate: ReadonlySet<string>): ParseResult {
  const chain = INDICATOR_CHAIN.exec(text);
  if (chain) {
    const { line, column } = positionIn(text, chain.index);
    return fail([
      issueAt(
        file,
        line,
        column,
        [],
        "the document is nested too deeply: a hundred or more `-`, `?` or `:` indicators in a row",
        "a manifest needs only a few levels of nesting; remove the repeated indicators",
        "yaml.depth",
      ),
    ]);
  }
  const deep = deepFlowAt(text);
  if (deep >= 0) {
    const { line, column } = positionIn(text, deep);
    return fail([
      issueAt(
        file,
        line,
        column,
        [],
        `the document is nested too deeply: more than ${MAX_FLOW_DEPTH} \`[\` or \`{\` collections inside one another`,
        "a manifest needs only a few levels of nesting; remove the deeply nested value",
        "yaml.depth",
      ),
    ]);
  }
  const binary = NOT_TEXT.exec(text);
  if (binary) {
    const { line, column } = positionIn(text, binary.index);
    const code = (binary[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    const what =
      binary[0] === "\ufffd" ? "a byte sequence that is not UTF-8" : `the control character U+${code}`;
    return fail([
      issueAt(
        file,
        line,
        column,
        [],
        `the file holds ${what}: it is not a text file`,
        'save the manifest as plain UTF-8 text; write special characters as escapes in double quotes, such as "\\t"',
        "yaml.syntax",
      ),
    ]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...YAML_OPTIONS, lineCounter });
  const positionOf = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntax = [...doc.errors, ...doc.warnings].map((error) => {
    const { line, column } = positionOf(error.pos[0]);
    const message = error.message.split("\n")[0] ?? error.message;
    if (error.code === "MULTIPLE_DOCS")
      return issueAt(
        file,
        line,
        column,
        [],
        "the file holds more than one YAML document",
        "a manifest is one document: remove this `---` and everything after it",
        "yaml.syntax",
      );
    if (error.code === "TAG_RESOLVE_FAILED")
      return issueAt(
        file,
        line,
        column,
        [],
        `YAML ${message}`,
        "remove the tag: a manifest holds only plain strings, numbers, booleans, lists and mappings",
        "yaml.syntax",
      );
    return issueAt(
      file,
      line,
      column,
      [],
      `YAML ${message}`,
      "fix the YAML syntax at this position",
      "yaml.syntax",
    );
  });
  syntax.push(...checkKeys(doc.contents, [], file, positionOf));
  if (syntax.length > 0) return fail(syntax);

  const looped = aliasInsideItsAnchor(doc);
  if (looped) {
    const { line, column } = positionOf(looped.offset);
    return fail([
      issueAt(
        file,
        line,
        column,
        [],
        `the alias *${looped.anchor} is inside the value of its own anchor &${looped.anchor}: the value would never end`,
        `replace *${looped.anchor} with the value itself, or remove the anchor`,
        "yaml.depth",
      ),
    ]);
  }
  const locate = makeLocator(doc.contents as Node | null, positionOf);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    if (isStackOverflow(error)) throw error;
    return fail([
      issueAt(
        file,
        1,
        1,
        [],
        (error as Error).message,
        "remove the YAML aliases that expand the document",
        "yaml.aliases",
      ),
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return fail([
      issueAt(
        file,
        1,
        1,
        [],
        "the manifest must be a YAML mapping of fields",
        "start from a sample in apps/ (manifest: 1, id, version, …)",
        "schema.type",
      ),
    ]);
  }

  const reserved = [...removeReservedKeys(data, []), ...changedLiterals(doc.contents, text)];
  const parsed = ManifestSchema.safeParse(data);
  if (!parsed.success) {
    const findings = withoutEchoes(parsed.error.issues.flatMap((issue) => explainIssue(issue, data)));
    return fail(placeAll([...reserved, ...findings], file, locate));
  }
  const semantic = [...reserved, ...checkSemantics(parsed.data)].filter((f) => !tolerate.has(f.rule));
  if (semantic.length > 0) return fail(placeAll(semantic, file, locate));
  return { ok: true, manifest: parsed.data, locate };
}

/**
 * Drops what only repeats a finding that says more: an `exec` step in `pre_start` is explained as
 * such, and the `copy_from_host` the step then lacks is not a second problem.
 */
function withoutEchoes(findings: Finding[]): Finding[] {
  const explained = new Set(
    findings.filter((f) => f.rule === "hook.pre_start").map((f) => JSON.stringify(f.path.slice(0, -1))),
  );
  return findings.filter(
    (f) =>
      !(
        f.path.at(-1) === "copy_from_host" &&
        f.rule !== "hook.pre_start" &&
        explained.has(JSON.stringify(f.path.slice(0, -1)))
      ),
  );
}

/**
 * An alias inside the value its anchor names (`icon: &a [*a]`) makes a value that contains itself.
 * The YAML library builds it as a cycle, and every later walk over the data recursed until the
 * stack ran out: a 200-byte file cost a quarter of a second of CPU (seconds on a busy node). One
 * walk of the document finds it: the anchor an alias names is the last one before it in document
 * order, and it loops when that node is one of the alias's ancestors.
 */
function aliasInsideItsAnchor(doc: Document): { anchor: string; offset: number } | undefined {
  const anchored = new Map<string, unknown>();
  let found: { anchor: string; offset: number } | undefined;
  visit(doc, {
    Node(_key, node, path) {
      if (isAlias(node)) {
        const target = anchored.get(node.source);
        if (target !== undefined && path.includes(target as never)) {
          found = { anchor: node.source, offset: node.range?.[0] ?? 0 };
          return visit.BREAK;
        }
      } else if (node.anchor) anchored.set(node.anchor, node);
      return undefined;
    },
  });
  return found;
}

/**
 * Every mapping key must be a plain scalar (not a list, a mapping, an alias or null) and appear once:
 * otherwise the data the schema sees would silently differ from what the file says.
 */
function checkKeys(
  node: unknown,
  path: PathSegment[],
  file: string,
  positionOf: (offset: number) => { line: number; column: number },
): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = pair.key as Node | null;
      const where = positionOf(
        key?.range?.[0] ?? (pair.value as Node | null)?.range?.[0] ?? node.range?.[0] ?? 0,
      );
      if (!isScalar(key) || key.value === null || typeof key.value === "object") {
        issues.push(
          issueAt(
            file,
            where.line,
            where.column,
            path,
            "a key must be a plain name, not a list, a mapping, an alias or null",
            "write the key as a plain word, such as `image`",
            "schema.key",
          ),
        );
        continue;
      }
      const name = String(key.value);
      if (seen.has(name))
        issues.push(
          issueAt(
            file,
            where.line,
            where.column,
            [...path, name],
            `the key \`${name}\` appears twice in the same mapping`,
            "keep one of the two entries",
            "yaml.duplicate-key",
          ),
        );
      seen.add(name);
      issues.push(...checkKeys(pair.value, [...path, name], file, positionOf));
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries())
      issues.push(...checkKeys(item, [...path, index], file, positionOf));
  }
  return issues;
}

/**
 * Environment and export values reach containers as text. A YAML number or boolean whose text is not
 * how it prints (`0755` is 755, `1.10` is 1.1, `0x1F` is 31, `True` is true, a 20-digit number loses
 * digits) would change silently: refused, with the quoted text as the fix.
 */
function changedLiterals(root: unknown, text: string): Finding[] {
  const get = (node: unknown, key: string) => (isMap(node) ? node.get(key, true) : undefined);
  const entries = (node: unknown): Array<[string, unknown]> =>
    isMap(node)
      ? node.items.flatMap((pair) => (isScalar(pair.key) ? [[String(pair.key.value), pair.value]] : []))
      : [];
  const values: Array<[PathSegment[], unknown]> = [
    ...entries(get(root, "containers")).flatMap(([key, container]) =>
      entries(get(container, "environment")).map(([name, value]): [PathSegment[], unknown] => [
        ["containers", key, "environment", name],
        value,
      ]),
    ),
    ...entries(get(root, "exports")).map(([name, value]): [PathSegment[], unknown] => [
      ["exports", name, "value"],
      get(value, "value"),
    ]),
  ];
  return values.flatMap(([path, node]): Finding[] => {
    if (!isScalar(node) || !node.range || (typeof node.value !== "number" && typeof node.value !== "boolean"))
      return [];
    const source = text.slice(node.range[0], node.range[1]);
    const printed = String(node.value);
    if (source === printed) return [];
    return [
      {
        path,
        message: `YAML reads ${source} as the ${typeof node.value} ${printed}, so the container would get "${printed}"`,
        fix: `quote it: "${source}"`,
        rule: "yaml.literal",
      },
    ];
  });
}

/** Removes (and reports) keys such as `__proto__`, so they can neither pollute objects nor confuse the schema. */
function removeReservedKeys(value: unknown, path: PathSegment[]): Finding[] {
  if (value === null || typeof value !== "object") return [];
  const findings: Finding[] = [];
  const record = value as Record<string, unknown>;
  for (const key of RESERVED_KEYS) {
    if (!Object.hasOwn(record, key)) continue;
    findings.push({
      path: [...path, key],
      message: `the key \`${key}\` is reserved (it names a JavaScript object internal) and cannot be used in a manifest`,
      fix: "rename or remove this key",
      rule: "schema.key",
      at: "key",
    });
    delete record[key];
  }
  for (const [key, child] of Object.entries(record))
    findings.push(...removeReservedKeys(child, [...path, Array.isArray(value) ? Number(key) : key]));
  return findings;
}

function fail(issues: ManifestIssue[]): ParseResult {
  return { ok: false, issues: dedupe(issues).sort(compareIssues) };
}

function dedupe(issues: ManifestIssue[]): ManifestIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.line}:${issue.column}:${issue.path}:${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function placeAll(findings: Finding[], file: string, locate: Locator): ManifestIssue[] {
  return findings.map((finding) => {
    const { line, column } = locate(finding.path, finding.at ?? "value");
    return issueAt(file, line, column, finding.path, finding.message, finding.fix, finding.rule);
  });
}

function issueAt(
  file: string,
  line: number,
  column: number,
  path: readonly PathSegment[],
  message: string,
  fix: string,
  rule: string,
): ManifestIssue {
  return { file, line, column, path: formatPath(path), message, fix, rule };
}

export function makeLocator(
  root: Node | null,
  positionOf: (offset: number) => { line: number; column: number },
): Locator {
  // An index of each mapping's keys, built on first use: a lookup per finding stays O(1).
  const indexes = new WeakMap<object, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    let index = indexes.get(map);
    if (!index) {
      index = new Map();
      for (const item of map.items) {
        if (!isPair(item) || !isScalar(item.key)) continue;
        const name = String(item.key.value);
        if (!index.has(name)) index.set(name, item);
      }
      indexes.set(map, index);
    }
    return index.get(key);
  };
  return (path, at = "value") => {
    let node: unknown = root;
    let best = root?.range ? positionOf(root.range[0]) : { line: 1, column: 1 };
    for (const [index, segment] of path.entries()) {
      const last = index === path.length - 1;
      if (isMap(node)) {
        const pair = pairOf(node, String(segment));
        if (!pair) break;
        const key = pair.key as Node;
        if (key.range) best = positionOf(key.range[0]);
        if (last && at === "key") break;
        node = pair.value;
        const value = node as Node | null;
        if (value?.range && (isScalar(value) || last)) best = positionOf(value.range[0]);
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        const item = node as Node | undefined;
        if (!item?.range) break;
        best = positionOf(item.range[0]);
      } else break;
    }
    return best;
  };
}
