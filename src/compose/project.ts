/**
 * A compose project as Compose assembles it: its files merged in order (later ones override),
 * `include`d files added, every `extends` resolved (in the file or another one), services outside
 * the active profiles left out, and each service's environment completed from its `env_file`s.
 * Reading files is the caller's (`read`): this module decides, and says where every problem is.
 */
import { dirname, isAbsolute, join, normalize } from "node:path";
import type { PathSegment } from "../manifest/issues.ts";
import { type EnvEntry, parseEnvFile } from "./dotenv.ts";
import type { Lookup } from "./interpolate.ts";
import { listToMapping, mergeMapping, mergeService } from "./merge.ts";
import { type PlacedReference, parseCompose } from "./parse.ts";
import type { ReportLine } from "./report.ts";
import { type ComposeFile, composeBool, type Service } from "./spec.ts";

export type FileRead = { ok: true; text: string } | { ok: false; missing: boolean; message: string };
export type ReadFile = (path: string) => FileRead;

export type ProjectInput = {
  /** Absolute paths of the compose files, the first one the project's own. */
  files: readonly string[];
  profiles: readonly string[];
  lookup: Lookup;
  read: ReadFile;
  /** How a path is shown in the report (relative to where the developer works). */
  display: (path: string) => string;
};

/** Where a field of a service is written: the file and the path in it. */
export type Origin = { file: string; path: PathSegment[] };
export type Place = { file: string; line: number; column: number };

export type ProjectService = {
  name: string;
  spec: Service;
  /** The definitions it was merged from, the one that wins first (override, itself, its bases). */
  origins: Origin[];
  /** Its `environment` after its env files: name → value (null: "from the environment", unset). */
  environment: Map<string, { value: string | null; from: "environment" | "env_file"; place: Place }>;
};

export type Project = {
  name?: string;
  /** The project's own compose file (absolute), and its directory. */
  file: string;
  dir: string;
  services: ProjectService[];
  /** Services of profiles that are not active, with those profiles. */
  disabled: Array<{ name: string; profiles: string[]; place: Place }>;
  top: Pick<ComposeFile, "volumes" | "networks" | "secrets" | "configs">;
  /** The content of each top-level config that names a `file`, read relative to its compose file. */
  configFiles: Map<string, string>;
  /** The `x-` extensions at the top of the project's own file (`x-casaos`, …). */
  extensions: Record<string, unknown>;
  references: PlacedReference[];
  /** Where a path of a file is written (the nearest enclosing field that exists). */
  place: (origin: Origin, sub?: PathSegment[]) => Place;
  /** Where a field of a service is written: in the first of its definitions that has it. */
  placeService: (service: ProjectService, sub: PathSegment[]) => Place;
  lines: ReportLine[];
};

const MAX_FILES = 50;

type LoadedFile = {
  path: string;
  data: ComposeFile;
  locate: (path: PathSegment[]) => { line: number; column: number };
};

export function loadProject(
  input: ProjectInput,
): { ok: true; project: Project } | { ok: false; lines: ReportLine[] } {
  const loaded = new Map<string, LoadedFile>();
  const errors: ReportLine[] = [];
  const notes: ReportLine[] = [];
  const references: PlacedReference[] = [];

  const error = (place: Place, subject: string, message: string, action: string) =>
    errors.push({ level: "error", ...place, subject, message, action });
  const place = (origin: Origin, sub: PathSegment[] = []): Place => {
    const file = loaded.get(origin.file);
    const position = file ? file.locate([...origin.path, ...sub]) : { line: 0, column: 0 };
    return { file: input.display(origin.file), ...position };
  };

  /** Reads and parses a file once; undefined (with the error recorded) when that fails. */
  const load = (path: string, from?: Place, subject = "(file)"): LoadedFile | undefined => {
    const known = loaded.get(path);
    if (known) return known;
    if (loaded.size >= MAX_FILES) {
      error(
        from ?? { file: input.display(path), line: 0, column: 0 },
        subject,
        `more than ${MAX_FILES} compose files are involved`,
        "a project needs far fewer files: look for an include or extends that loops",
      );
      return undefined;
    }
    const read = input.read(path);
    if (!read.ok) {
      error(
        from ?? { file: input.display(path), line: 0, column: 0 },
        subject,
        `cannot read ${input.display(path)}: ${read.message}`,
        from
          ? "correct the path, relative to the compose file that names it"
          : "pass a compose file that exists and can be read",
      );
      return undefined;
    }
    const parsed = parseCompose(read.text, input.display(path), input.lookup);
    if (!parsed.ok) {
      errors.push(...parsed.lines);
      return undefined;
    }
    const file: LoadedFile = { path, data: parsed.data, locate: (p) => parsed.locate(p) };
    loaded.set(path, file);
    references.push(...parsed.references);
    return file;
  };

  // Each file's services (with `include`s, extends not yet resolved), in order.
  type Raw = { spec: Record<string, unknown>; origins: Origin[] };
  const raw = new Map<string, Raw>();
  const top: Project["top"] = {};
  const configPaths = new Map<string, { path: string; at: Place }>();
  const including = new Set<string>();
  const addFile = (path: string, override: boolean, from?: Place) => {
    if (including.has(path)) {
      error(
        from ?? { file: input.display(path), line: 0, column: 0 },
        "include",
        `${input.display(path)} includes itself (through its includes)`,
        "remove the include that loops",
      );
      return;
    }
    const file = load(path, from, "include");
    if (!file) return;
    including.add(path);
    for (const [index, entry] of (file.data.include ?? []).entries()) {
      const paths =
        typeof entry === "string" ? [entry] : typeof entry.path === "string" ? [entry.path] : entry.path;
      for (const included of paths)
        addFile(resolvePath(dirname(path), included), false, place({ file: path, path: ["include", index] }));
    }
    including.delete(path);
    for (const [name, spec] of Object.entries(file.data.services ?? {})) {
      const origin: Origin = { file: path, path: ["services", name] };
      const withPaths = absolutePaths(spec as Record<string, unknown>, dirname(path));
      const before = raw.get(name);
      if (before && !override) {
        error(
          place(origin),
          `services.${name}`,
          `service ${name} is defined twice (also in ${input.display(before.origins[0]?.file ?? "")})`,
          "rename one of them: an included file may not redefine a service",
        );
        continue;
      }
      raw.set(
        name,
        before
          ? { spec: mergeService(before.spec, withPaths), origins: [origin, ...before.origins] }
          : { spec: withPaths, origins: [origin] },
      );
    }
    for (const [name, config] of Object.entries(file.data.configs ?? {}))
      if (config.file !== undefined)
        configPaths.set(name, {
          path: resolvePath(dirname(path), config.file),
          at: place({ file: path, path: ["configs", name, "file"] }),
        });
    for (const key of ["volumes", "networks", "secrets", "configs"] as const)
      if (file.data[key])
        top[key] = mergeMapping(
          (top[key] ?? {}) as Record<string, unknown>,
          file.data[key] as Record<string, unknown>,
        ) as never;
  };
  for (const [index, file] of input.files.entries()) addFile(file, index > 0);
  if (errors.length > 0) return { ok: false, lines: errors };
  const main = loaded.get(input.files[0] as string) as LoadedFile;

  // `extends`, resolved in depth, each service once.
  const resolved = new Map<string, Raw>();
  const resolveExtends = (key: string, found: Raw, chain: string[]): Raw | undefined => {
    const done = resolved.get(key);
    if (done) return done;
    const extend = found.spec.extends as Service["extends"];
    if (extend === undefined) {
      resolved.set(key, found);
      return found;
    }
    const origin = found.origins[0] as Origin;
    const at = place(origin, ["extends"]);
    if (chain.includes(key)) {
      error(at, "extends", `extends loops: ${[...chain, key].join(" → ")}`, "break the loop");
      return undefined;
    }
    const service = typeof extend === "string" ? extend : extend.service;
    const otherFile =
      typeof extend === "string" || extend.file === undefined
        ? undefined
        : resolvePath(dirname(origin.file), extend.file);
    let base: Raw | undefined;
    let baseKey: string;
    if (otherFile) {
      const file = load(otherFile, at, "extends.file");
      if (!file) return undefined;
      const spec = file.data.services?.[service];
      if (!spec) {
        error(
          at,
          "extends.service",
          `${input.display(otherFile)} has no service ${service}`,
          `name one of: ${Object.keys(file.data.services ?? {}).join(", ") || "(none)"}`,
        );
        return undefined;
      }
      baseKey = `${otherFile}\0${service}`;
      base = {
        spec: absolutePaths(spec as Record<string, unknown>, dirname(otherFile)),
        origins: [{ file: otherFile, path: ["services", service] }],
      };
    } else {
      baseKey = service;
      base = raw.get(service);
      if (!base) {
        error(
          at,
          "extends.service",
          `there is no service ${service} to extend in this project`,
          `name one of: ${[...raw.keys()].join(", ")}`,
        );
        return undefined;
      }
    }
    const baseResolved = resolveExtends(baseKey, base, [...chain, key]);
    if (!baseResolved) return undefined;
    const { extends: _, ...own } = found.spec;
    const merged: Raw = {
      spec: mergeService(baseResolved.spec, own),
      origins: [...found.origins, ...baseResolved.origins],
    };
    resolved.set(key, merged);
    return merged;
  };
  for (const [name, found] of raw) resolveExtends(name, found, []);
  if (errors.length > 0) return { ok: false, lines: errors };

  const services: ProjectService[] = [];
  const disabled: Project["disabled"] = [];
  for (const name of raw.keys()) {
    const { spec: merged, origins } = resolved.get(name) as Raw;
    const spec = merged as Service;
    const profiles = spec.profiles ?? [];
    if (profiles.length > 0 && !profiles.some((p) => input.profiles.includes(p))) {
      disabled.push({ name, profiles, place: place(origins[0] as Origin) });
      continue;
    }
    services.push({
      name,
      spec,
      origins,
      environment: environmentOf(spec, origins, place, input, error, notes),
    });
  }
  const configFiles = new Map<string, string>();
  for (const [name, { path, at }] of configPaths) {
    const read = input.read(path);
    if (read.ok) configFiles.set(name, read.text);
    else
      error(
        at,
        `configs.${name}.file`,
        `the config file ${input.display(path)} cannot be read: ${read.message}`,
        "create it, or correct the path (relative to the compose file)",
      );
  }
  if (errors.length > 0) return { ok: false, lines: errors };
  const extensions = Object.fromEntries(Object.entries(main.data).filter(([key]) => key.startsWith("x-")));
  return {
    ok: true,
    project: {
      name: main.data.name,
      file: main.path,
      dir: dirname(main.path),
      services,
      disabled,
      top,
      configFiles,
      extensions,
      references,
      place,
      placeService: (service, sub) => {
        const origin =
          service.origins.find((o) => hasPath(loaded.get(o.file)?.data, [...o.path, ...sub])) ??
          (service.origins[0] as Origin);
        return place(origin, sub);
      },
      lines: notes,
    },
  };
}

function hasPath(data: unknown, path: PathSegment[]): boolean {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== "object" || !(segment in (node as object))) return false;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return true;
}

/** A path of a compose file made absolute against its directory (as Compose resolves it). */
function resolvePath(dir: string, path: string): string {
  return normalize(isAbsolute(path) ? path : join(dir, path));
}

/** A service's `env_file` paths made absolute where it is written, so merging keeps their meaning. */
function absolutePaths(spec: Record<string, unknown>, dir: string): Record<string, unknown> {
  const envFile = spec.env_file as Service["env_file"];
  if (envFile === undefined) return spec;
  const entries = typeof envFile === "string" ? [envFile] : envFile;
  return {
    ...spec,
    env_file: entries.map((entry) =>
      typeof entry === "string" ? resolvePath(dir, entry) : { ...entry, path: resolvePath(dir, entry.path) },
    ),
  };
}

/** A service's environment: its env files in order, then `environment`, which wins. */
function environmentOf(
  spec: Service,
  origins: Origin[],
  place: (origin: Origin, sub?: PathSegment[]) => Place,
  input: ProjectInput,
  error: (place: Place, subject: string, message: string, action: string) => void,
  notes: ReportLine[],
): ProjectService["environment"] {
  const environment: ProjectService["environment"] = new Map();
  const origin = origins[0] as Origin;
  const subject = `services.${origin.path[1]}`;
  const envFiles =
    spec.env_file === undefined ? [] : typeof spec.env_file === "string" ? [spec.env_file] : spec.env_file;
  for (const [index, entry] of envFiles.entries()) {
    const path = typeof entry === "string" ? entry : entry.path;
    const required = typeof entry === "string" ? true : (composeBool(entry.required) ?? true);
    const at = place(origin, ["env_file", ...(typeof spec.env_file === "string" ? [] : [index])]);
    const read = input.read(path);
    if (!read.ok) {
      if (read.missing && !required) {
        notes.push({
          level: "info",
          ...at,
          subject: `${subject}.env_file`,
          message: `${input.display(path)} does not exist and is not required: skipped, as Compose does`,
        });
        continue;
      }
      error(
        at,
        `${subject}.env_file`,
        `env file ${input.display(path)} cannot be read: ${read.message}`,
        "create it beside the compose file, correct the path, or mark it `required: false`",
      );
      continue;
    }
    const parsed = parseEnvFile(read.text, input.lookup);
    for (const problem of parsed.problems)
      error(
        { file: input.display(path), line: problem.line, column: 1 },
        "(env file)",
        problem.message,
        "write NAME=value lines",
      );
    for (const entry of parsed.entries as EnvEntry[])
      environment.set(entry.name, {
        value: entry.value,
        from: "env_file",
        place: { file: input.display(path), line: entry.line, column: 1 },
      });
  }
  const own = listToMapping(spec.environment ?? {}) as Record<string, string | number | boolean | null>;
  for (const [name, value] of Object.entries(own))
    environment.set(name, {
      value: value === null ? null : String(value),
      from: "environment",
      place: place(origin, [
        "environment",
        ...(Array.isArray(spec.environment)
          ? [spec.environment.findIndex((e) => e === name || e.startsWith(`${name}=`))]
          : [name]),
      ]),
    });
  return environment;
}
