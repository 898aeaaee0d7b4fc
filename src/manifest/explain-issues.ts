/**
 * Explains zod's issues with a manifest as findings an author can act on: what is wrong, with the
 * value found, and how to fix it (the keys a mapping accepts and the closest one to a misspelt key,
 * the forms a union accepts, a bound with its unit, examples from the schema). Pure.
 */
import { z } from "zod";
import { type Finding, formatPath, type PathSegment } from "./issues.ts";
import { ManifestSchema, MemoryBytes, memorySize, SIGNALS, ULIMIT_NAMES } from "./schema.ts";
import { uncatchableSignal } from "./semantics.ts";
import { closest } from "./suggest.ts";

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
export function explainIssue(issue: z.core.$ZodIssue, data: unknown): Finding[] {
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
      if (path.at(-2) === "ulimits") {
        const guess = closest(String(path.at(-1)), [...ULIMIT_NAMES]);
        return [
          {
            path,
            message: `${JSON.stringify(path.at(-1))} is not a resource limit`,
            fix: `${guess ? `did you mean ${JSON.stringify(guess)}? ` : ""}use one of ${ULIMIT_NAMES.join(", ")}`,
            rule: "schema.key",
            at: "key",
          },
        ];
      }
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
