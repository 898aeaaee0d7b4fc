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
import { z } from "zod";
import { compareIssues, type Finding, formatPath, type ManifestIssue, type PathSegment } from "./issues.ts";
import { type Manifest, ManifestSchema, MemoryBytes, memorySize, SIGNALS } from "./schema.ts";
import { checkSemantics, uncatchableSignal } from "./semantics.ts";
import { closest } from "./suggest.ts";

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
]);

export type ParseResult =
  | { ok: true; manifest: Manifest; locate: Locator }
  | { ok: false; issues: ManifestIssue[]; manifest?: undefined };

/** Finds the line and column of a field path in the source document. */
export type Locator = (
  path: readonly PathSegment[],
  at?: "key" | "value",
) => { line: number; column: number };

/** Keys that express a need the platform refuses outright, with the reason and the alternative. */
const FORBIDDEN_CONTAINER_KEYS: Record<string, { message: string; fix: string }> = {
  privileged: {
    message: "privileged containers are never allowed (rootless, secure by default)",
    fix: "remove `privileged`; declare the specific need (a device, a capability, a host path) under `permissions`",
  },
  security_opt: {
    message: "security options cannot be changed: every container runs with no-new-privileges",
    fix: "remove `security_opt`",
  },
  cap_add: {
    message: "`cap_add` is not a manifest field",
    fix: "list added capabilities under `capabilities`; elevated ones need a `capability` permission",
  },
  volumes_from: {
    message: "sharing volumes between containers this way is not supported",
    fix: "use an app volume mounted in both containers",
  },
  sysctls: { message: "sysctls cannot be set by apps", fix: "remove `sysctls`" },
  restart: {
    message: "the platform decides restarts (health checks with backoff), not the manifest",
    fix: "remove `restart`; declare a `health` check instead",
  },
  labels: { message: "labels are set by the platform", fix: "remove `labels`" },
};
for (const key of [
  "network_mode",
  "network",
  "net",
  "pid",
  "ipc",
  "uts",
  "userns",
  "userns_mode",
  "cgroupns",
  "cgroup_parent",
]) {
  FORBIDDEN_CONTAINER_KEYS[key] = {
    message: `\`${key}\` is not allowed: host namespaces are never shared and every app gets its own network`,
    fix: `remove \`${key}\`; use \`ports\` to publish a port and \`aliases\` for names on the app network`,
  };
}

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

/** Walks the schema along a path, to name the keys an object accepts. */
function schemaAt(schema: z.core.$ZodType, path: readonly PathSegment[]): z.core.$ZodType[] {
  let current: z.core.$ZodType[] = [schema];
  for (const segment of [...path, undefined]) {
    current = current.flatMap(unwrap);
    if (segment === undefined) break;
    current = current.flatMap((s) => {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (def.type === "object") {
        const child = (def.shape as Record<string, z.core.$ZodType>)[String(segment)];
        return child ? [child] : [];
      }
      if (def.type === "record") return [def.valueType as z.core.$ZodType];
      if (def.type === "array") return [def.element as z.core.$ZodType];
      return [];
    });
  }
  return current;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === "optional" || def.type === "default" || def.type === "nullable" || def.type === "readonly")
    return unwrap(def.innerType as z.core.$ZodType);
  if (def.type === "pipe") return unwrap(def.in as z.core.$ZodType);
  if (def.type === "union") return (def.options as z.core.$ZodType[]).flatMap(unwrap);
  return [schema];
}

type Shape = Record<string, z.core.$ZodType>;

/** The mappings a field accepts: one for a plain mapping, one per alternative for a union of them. */
function shapesAt(path: readonly PathSegment[]): Shape[] {
  return schemaAt(ManifestSchema, path).flatMap((s) => {
    const def = s._zod.def as unknown as { type: string; shape?: Shape };
    return def.type === "object" && def.shape ? [def.shape] : [];
  });
}

/** The tags of a tagged alternative, such as a health check's `type: http`, as `key: value` pairs. */
function tagsOf(shape: Shape): Array<[string, unknown[]]> {
  return Object.entries(shape).flatMap(([key, field]): Array<[string, unknown[]]> => {
    const def = field._zod.def as unknown as { type: string; values?: unknown[] };
    return def.type === "literal" ? [[key, def.values ?? []]] : [];
  });
}

function describeTags(shape: Shape): string {
  return tagsOf(shape)
    .map(([key, values]) => `\`${key}: ${values.map(String).join(" | ")}\``)
    .join(", ");
}

/** `{ app: …, export: … }`: a mapping alternative, by its required keys (all keys when none is required). */
function describeShape(shape: Shape): string {
  const required = Object.keys(shape).filter((key) => shape[key]?._zod.optin !== "optional");
  return `{ ${(required.length > 0 ? required : Object.keys(shape)).map((k) => `${k}: …`).join(", ")} }`;
}

/** How an alternative of a union is named in "accepted forms". */
function describeForm(schema: z.core.$ZodType): string {
  const def = schema._zod.def as unknown as { type: string; shape?: Shape; format?: string };
  if (def.type === "object" && def.shape) return describeShape(def.shape);
  return (def.format && FORMAT_NAMES[def.format]) ?? TYPE_NAMES[def.type] ?? def.type;
}

function codeList(keys: readonly string[], last = "and"): string {
  const quoted = keys.map((key) => `\`${key}\``);
  return quoted.length < 2 ? (quoted[0] ?? "") : `${quoted.slice(0, -1).join(", ")} ${last} ${quoted.at(-1)}`;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The unit of a length bound, singular and plural. */
const UNITS: Record<string, [string, string]> = {
  array: ["entry", "entries"],
  string: ["character", "characters"],
};

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping (key: value)",
  array: "a list",
  record: "a mapping (key: value)",
};

/** Translates one schema issue into findings that say what is wrong and how to fix it. */
function explainIssue(issue: z.core.$ZodIssue, data: unknown): Finding[] {
  const path = issue.path as PathSegment[];
  const value = valueAt(data, path);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key, index) => unknownKey(path, key, value, index < MAX_SUGGESTED_KEYS));
    case "invalid_type": {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      if (value === undefined) {
        const key = path.at(-1);
        return [
          {
            path,
            message: `required field \`${String(key)}\` is missing`,
            fix: `add \`${String(key)}:\` with ${expected}`,
            rule: "schema.missing",
          },
        ];
      }
      const quote = issue.expected === "string" && (typeof value === "number" || typeof value === "boolean");
      const fix = quote
        ? "put the value in quotes so that YAML reads it as a string"
        : `write ${expected} here`;
      return [
        { path, message: `expected ${expected}, found ${describeValue(value)}`, fix, rule: "schema.type" },
      ];
    }
    case "invalid_value": {
      if (path.at(-1) === "stop_signal" && value !== undefined) return [explainSignal(path, value)];
      const allowed = issue.values.map((v) => JSON.stringify(v));
      if (value === undefined) {
        const key = String(path.at(-1));
        return [
          {
            path,
            message: `required field \`${key}\` is missing`,
            fix: `add \`${key}: ${issue.values.map(String).join(" | ")}\``,
            rule: "schema.missing",
          },
        ];
      }
      // `manifest: "1"`: the right value in quotes; suggesting "1" would repeat the mistake.
      const unquoted = issue.values.find(
        (v) => typeof v !== "string" && typeof value === "string" && String(v) === value,
      );
      const guess = typeof value === "string" ? closest(value, issue.values.map(String)) : undefined;
      return [
        {
          path,
          message: `${describeValue(value)} is not allowed here`,
          fix:
            unquoted !== undefined
              ? `write ${String(unquoted)} without quotes`
              : guess
                ? `did you mean ${JSON.stringify(guess)}? (allowed: ${allowed.join(", ")})`
                : `use one of: ${allowed.join(", ")}`,
          rule: "schema.value",
        },
      ];
    }
    case "invalid_format":
      return [
        {
          path,
          message: `${describeValue(value)} is not valid: it ${formatRequirement(issue)}`,
          fix: exampleFix(path, formatRequirement(issue)),
          rule: "schema.format",
        },
      ];
    case "too_small":
    case "too_big": {
      // Every bound of the schema is inclusive (json-schema.test.ts): "at least N" allows N.
      const small = issue.code === "too_small";
      const bound = small ? "at least" : "at most";
      let limit = small
        ? numberBound(issue.minimum, path, "minimum")
        : numberBound(issue.maximum, path, "maximum");
      if (schemaAt(ManifestSchema, path).includes(MemoryBytes) && typeof limit === "number")
        limit = memorySize(limit);
      const unit = UNITS[issue.origin];
      if (unit && issue.code === "too_small" && Number(limit) === 1) {
        const key = path.at(-1);
        const about = schemaAt(ManifestSchema, path)
          .map((s) => z.globalRegistry.get(s)?.description)
          .find((d) => d !== undefined);
        const what = issue.origin === "array" ? "list at least one entry" : "write a non-empty value";
        return [
          {
            path,
            message: `${typeof key === "string" ? `\`${key}\`` : "this entry"} must not be empty`,
            fix: about ? `${what}: ${about[0]?.toLowerCase()}${about.slice(1).replace(/\.$/, "")}` : what,
            rule: "schema.range",
          },
        ];
      }
      const what = unit?.[Number(limit) === 1 ? 0 : 1] ?? "";
      return [
        {
          path,
          message: `${describeValue(value)} is out of range`,
          fix: `use ${bound} ${String(limit)} ${what}`.trim(),
          rule: "schema.range",
        },
      ];
    }
    case "invalid_key": {
      const env = path.at(-2) === "environment";
      return [
        {
          path,
          message: `the key ${JSON.stringify(path.at(-1))} is not a valid ${env ? "environment variable name" : "name"}`,
          fix: env
            ? "use letters, digits and '_', not starting with a digit, such as DB_HOST"
            : "use a DNS label: lower-case letters, digits and '-', starting with a letter",
          rule: "schema.key",
          at: "key",
        },
      ];
    }
    case "invalid_union":
      return explainUnion(issue, data);
    case "invalid_element":
      return [{ path, message: "an element is invalid", fix: "fix the element", rule: "schema.value" }];
    default:
      return [
        { path, message: issue.message, fix: "see docs/manifest.md for this field", rule: "schema.value" },
      ];
  }
}

/**
 * The bound to show for a number out of range. A huge number fails zod's safe-integer check first,
 * whose bound (2^53 - 1) is not the field's: show the field's own minimum or maximum instead.
 */
function numberBound(bound: unknown, path: readonly PathSegment[], side: "minimum" | "maximum"): unknown {
  if (typeof bound !== "number" && typeof bound !== "bigint") return bound;
  if (Math.abs(Number(bound)) < Number.MAX_SAFE_INTEGER) return bound;
  for (const schema of schemaAt(ManifestSchema, path)) {
    const own = (schema._zod.bag as { minimum?: unknown; maximum?: unknown })[side];
    if (typeof own === "number") return own;
  }
  return bound;
}

/**
 * Unknown keys of one mapping that get a "did you mean": each costs an edit distance per allowed
 * key, and a file of nothing but unknown keys holds tens of thousands of them.
 */
const MAX_SUGGESTED_KEYS = 100;

function unknownKey(path: PathSegment[], key: string, value: unknown, suggest = true): Finding {
  const keyPath = [...path, key];
  const inContainer = path.length === 2 && path[0] === "containers";
  const forbidden =
    inContainer && Object.hasOwn(FORBIDDEN_CONTAINER_KEYS, key) ? FORBIDDEN_CONTAINER_KEYS[key] : undefined;
  if (forbidden)
    return {
      path: keyPath,
      message: forbidden.message,
      fix: forbidden.fix,
      rule: "security.forbidden-key",
      at: "key",
    };
  if (key === "exec" && path.length === 3 && path[0] === "hooks" && path[1] === "pre_start")
    return {
      path: keyPath,
      message:
        "an exec step cannot run in pre_start: the app's containers are stopped before a start, and a command needs a running container",
      fix: "copy files with copy_from_host here (it works on stopped containers); run the command at the start of the container's own command, or in post_install",
      rule: "hook.pre_start",
      at: "key",
    };
  // In a tagged alternative (a health check of `type: tcp`), only that alternative's keys are allowed.
  const shapes = shapesAt(path);
  const own = shapes.filter((shape) =>
    tagsOf(shape).every(([tag, values]) => values.includes((value as Record<string, unknown>)?.[tag])),
  );
  const elsewhere = shapes.filter((shape) => !own.includes(shape) && Object.hasOwn(shape, key));
  if (own.length > 0 && elsewhere.length > 0)
    return {
      path: keyPath,
      message: `\`${key}\` applies only with ${elsewhere.map(describeTags).join(" or ")}, and this is ${own.map(describeTags).join(" or ")}`,
      fix: `remove \`${key}\`, or change ${codeList(
        tagsOf(own[0] as Shape).map(([tag]) => tag),
        "or",
      )}; allowed here: ${Object.keys(own[0] as Shape).join(", ")}`,
      rule: "schema.unknown-key",
      at: "key",
    };
  const allowed = [...new Set((own.length > 0 ? own : shapes).flatMap((shape) => Object.keys(shape)))].filter(
    (name) => name !== key,
  );
  const guess = suggest ? closest(key, allowed) : undefined;
  return {
    path: keyPath,
    message: `unknown field \`${key}\``,
    fix: guess
      ? `did you mean \`${guess}\`?`
      : allowed.length > 0
        ? `remove it; allowed here: ${allowed.join(", ")}`
        : "remove it",
    rule: "schema.unknown-key",
    at: "key",
  };
}

/**
 * A stop signal that is not a signal name: a number (Podman would take 15; the manifest wants its
 * name, SIGTERM), a name in lower case or without `SIG`, a typo, or no signal at all.
 */
function explainSignal(path: PathSegment[], value: unknown): Finding {
  const names = Object.keys(SIGNALS);
  const text = String(value).trim();
  const number = /^\d+$/.test(text) ? Number(text) : undefined;
  const name =
    number !== undefined
      ? names.find((n) => SIGNALS[n] === number)
      : (names.find((n) => n === `SIG${text.toUpperCase().replace(/^SIG/, "")}`) ?? closest(text, names));
  const uncatchable = name === undefined ? undefined : uncatchableSignal(name);
  const message =
    number === undefined
      ? `${describeValue(value)} is not a Linux signal name`
      : name === undefined
        ? `${describeValue(value)} is not a Linux signal number`
        : `${describeValue(value)} is a signal number: \`stop_signal\` takes the signal's name (${number} is ${name})`;
  return {
    path,
    message: uncatchable ? `${message}; ${uncatchable.message}` : message,
    fix: uncatchable
      ? uncatchable.fix
      : name === undefined
        ? "write a signal name such as SIGTERM, SIGINT or SIGQUIT (docs/manifest-reference.md lists them all)"
        : number === undefined
          ? `did you mean ${name}?`
          : `write \`stop_signal: ${name}\``,
    rule: typeof value === "string" ? "schema.format" : "schema.type",
  };
}

/** A fix that shows valid values, from the examples the schema carries for the field. */
function exampleFix(path: readonly PathSegment[], requirement: string): string {
  const examples = schemaAt(ManifestSchema, path).flatMap(
    (s) => (z.globalRegistry.get(s)?.examples as unknown[] | undefined) ?? [],
  );
  if (examples.length > 0)
    return `write a value such as ${examples.map((e) => JSON.stringify(e)).join(" or ")}`;
  // No examples in the schema: the requirement's own "such as …", else the requirement itself.
  const such = /such as (.+)$/.exec(requirement);
  return such ? `write a value such as ${such[1]}` : `correct the value: it ${requirement}`;
}

const FORMAT_NAMES: Record<string, string> = {
  url: "a URL such as https://example.org",
  ipv4: "an IPv4 address such as 127.0.0.1",
  ipv6: "an IPv6 address such as ::1",
};

/** What a format check requires, as words after "it": the schema's message, or a name for zod's own formats. */
function formatRequirement(issue: z.core.$ZodIssue & { code: "invalid_format" }): string {
  if (!/^Invalid /.test(issue.message)) return issue.message;
  const name = FORMAT_NAMES[issue.format];
  if (name) return `must be ${name}`;
  if (issue.format === "starts_with" && "prefix" in issue)
    return `must start with ${JSON.stringify(issue.prefix)}`;
  return `must be a valid ${issue.format}`;
}

/**
 * A union failed. For a mapping: unknown keys get a "did you mean"; keys of several alternatives are
 * named as such; keys that fit one alternative get that alternative's findings (a missing key, a bad
 * value). Anything else: which forms are accepted.
 */
function explainUnion(issue: z.core.$ZodIssue & { code: "invalid_union" }, data: unknown): Finding[] {
  const path = issue.path as PathSegment[];
  const value = valueAt(data, path);
  if ("discriminator" in issue && typeof issue.discriminator === "string")
    return explainDiscriminator(path, value);
  const forms = schemaAt(ManifestSchema, path);
  const accepted = `accepted forms: ${[...new Set(forms.map(describeForm))].join("; ")}`;
  const shapes = shapesAt(path);
  const isMapping = value !== null && typeof value === "object" && !Array.isArray(value);
  if (isMapping && shapes.length > 0) {
    const keys = Object.keys(value);
    const known = [...new Set(shapes.flatMap((shape) => Object.keys(shape)))];
    const unknown = keys.filter((key) => !known.includes(key));
    if (unknown.length > 0)
      return unknown.map((key) => {
        const guess = closest(key, known);
        return {
          path: [...path, key],
          message: `unknown field \`${key}\``,
          fix: guess ? `did you mean \`${guess}\`? (${accepted})` : accepted,
          rule: "schema.unknown-key",
          at: "key" as const,
        };
      });
    const fitting = shapes.filter((shape) => keys.every((key) => Object.hasOwn(shape, key)));
    if (fitting.length === 0) return [mixedForms(path, keys, shapes, accepted)];
    const branch = ((issue.errors ?? []) as z.core.$ZodIssue[][]).find(
      (inner) =>
        inner.length > 0 &&
        inner.every(
          (i) => i.path.length > 0 || (i.code !== "unrecognized_keys" && i.code !== "invalid_type"),
        ),
    );
    if (fitting.length === 1 && branch) {
      const form = describeShape(fitting[0] as Shape);
      return branch.flatMap((inner) =>
        explainIssue({ ...inner, path: [...path, ...inner.path] } as z.core.$ZodIssue, data).map((finding) =>
          finding.rule === "schema.missing" && finding.path.length === path.length + 1
            ? { ...finding, fix: `${finding.fix} (the form is ${form})` }
            : finding,
        ),
      );
    }
  }
  return [
    {
      path,
      message: `${describeValue(value)} has none of the accepted forms`,
      fix: accepted,
      rule: "schema.type",
    },
  ];
}

/** A mapping whose keys belong to different alternatives: `{ value: x, host: web }`. */
function mixedForms(path: PathSegment[], keys: string[], shapes: Shape[], accepted: string): Finding {
  if (shapes.every((shape) => Object.keys(shape).length === 1))
    return {
      path,
      message: `${codeList(keys)} cannot be combined: ${formatPath(path)} is exactly one of ${codeList(
        shapes.flatMap((shape) => Object.keys(shape)),
        "or",
      )}`,
      fix: `keep only one of ${codeList(keys)}`,
      rule: "schema.type",
    };
  const groups = shapes
    .map((shape) => ({ shape, keys: keys.filter((key) => Object.hasOwn(shape, key)) }))
    .filter((group) => group.keys.length > 0);
  const [first, ...rest] = groups.map((group) => codeList(group.keys));
  return {
    path,
    message: `${first} cannot be combined with ${rest.join(" or ")}: they belong to different forms`,
    fix: `keep one form: ${groups.map((g) => `${describeShape(g.shape)} ${Object.keys(g.shape).length === 1 ? "alone" : "together"}`).join(", or ")} (${accepted})`,
    rule: "schema.type",
  };
}

/** A tagged alternative (such as a health check's `type`) whose tag is missing or unknown. */
function explainDiscriminator(path: PathSegment[], value: unknown): Finding[] {
  const tag = path.at(-1) as string;
  const allowed = schemaAt(ManifestSchema, path.slice(0, -1)).flatMap((s) => {
    const def = s._zod.def as unknown as { type: string; shape?: Record<string, z.core.$ZodType> };
    const literal = def.shape?.[tag]?._zod.def as unknown as { values?: unknown[] } | undefined;
    return (literal?.values ?? []).map(String);
  });
  const list = allowed.map((v) => JSON.stringify(v)).join(", ");
  if (value === undefined)
    return [
      {
        path,
        message: `required field \`${tag}\` is missing`,
        fix: `add \`${tag}:\` with one of ${list}`,
        rule: "schema.missing",
      },
    ];
  const guess = typeof value === "string" ? closest(value, allowed) : undefined;
  return [
    {
      path,
      message: `${describeValue(value)} is not allowed here`,
      fix: guess ? `did you mean ${JSON.stringify(guess)}? (allowed: ${list})` : `use one of: ${list}`,
      rule: "schema.value",
    },
  ];
}
