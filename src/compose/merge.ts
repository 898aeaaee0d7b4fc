/**
 * How Compose combines two definitions of a service (an override file over a base file, a service
 * over the one it `extends`), after the specification's "Merge" chapter: mappings merge key by key,
 * `environment`, `labels` and the like merge by name whatever their form (list or mapping),
 * `depends_on` and `networks` by service and network, `volumes` and `devices` by their target, the
 * program (`command`, `entrypoint`) and the health check's `test` are replaced, other lists are
 * combined without duplicates. Pure.
 */

type Value = unknown;
type Mapping = Record<string, Value>;

const isMapping = (value: Value): value is Mapping =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** `K=V` lists as mappings (`K` alone is null: "take it from the environment"). */
export function listToMapping(value: Value, separator = "="): Value {
  if (!Array.isArray(value)) return value;
  return Object.fromEntries(
    value.map((item) => {
      const text = String(item);
      const at = text.indexOf(separator);
      return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
    }),
  );
}

const BY_NAME = new Set(["environment", "labels", "annotations", "sysctls", "extra_hosts"]);
const REPLACED = new Set(["command", "entrypoint"]);

/** The container path a volume or device entry mounts at: what makes two entries the same mount. */
function mountTarget(entry: Value): string {
  if (isMapping(entry)) return String(entry.target ?? entry.source ?? JSON.stringify(entry));
  const parts = String(entry).split(":");
  return parts.length >= 2 ? (parts[1] as string) : (parts[0] as string);
}

function uniqueBy(items: Value[], key: (item: Value) => string): Value[] {
  const byKey = new Map<string, Value>();
  for (const item of items) byKey.set(key(item), item); // a later entry replaces an earlier one
  return [...byKey.values()];
}

/** A service definition merged over a base one: what `override` says wins. */
export function mergeService(base: Mapping, override: Mapping): Mapping {
  const out: Mapping = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const before = out[key];
    if (before === undefined || value === null || REPLACED.has(key)) out[key] = value;
    else if (BY_NAME.has(key))
      out[key] = { ...(listToMapping(before) as Mapping), ...(listToMapping(value) as Mapping) };
    else if (key === "depends_on" || key === "networks") {
      const normalise = (v: Value) =>
        Array.isArray(v)
          ? Object.fromEntries(
              v.map((name) => [name, key === "depends_on" ? { condition: "service_started" } : null]),
            )
          : v;
      out[key] = { ...(normalise(before) as Mapping), ...(normalise(value) as Mapping) };
    } else if ((key === "volumes" || key === "devices") && Array.isArray(before) && Array.isArray(value))
      out[key] = uniqueBy([...before, ...value], mountTarget);
    else if (Array.isArray(before) && Array.isArray(value))
      out[key] = uniqueBy([...before, ...value], (v) => JSON.stringify(v));
    else if (key === "healthcheck" && isMapping(before) && isMapping(value))
      out[key] = { ...before, ...value };
    else if (isMapping(before) && isMapping(value)) out[key] = mergeMapping(before, value);
    else out[key] = value;
  }
  return out;
}

/** Two mappings merged in depth; lists and scalars of `override` replace those of `base`. */
export function mergeMapping(base: Mapping, override: Mapping): Mapping {
  const out: Mapping = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const before = out[key];
    out[key] = isMapping(before) && isMapping(value) ? mergeMapping(before, value) : value;
  }
  return out;
}
