/** Imports an in-memory compose project, for tests of the importer's pure parts. */

import { type Converted, convertProject } from "../../src/compose/convert.ts";
import { manifestText } from "../../src/compose/import.ts";
import { loadProject } from "../../src/compose/project.ts";
import type { ReportLine } from "../../src/compose/report.ts";
import { importLookup } from "../../src/compose/variables.ts";
import { parseManifest } from "../../src/manifest/parse.ts";

export type TestImport =
  | { ok: false; lines: ReportLine[] }
  | (Converted & { ok: true; text: string; valid: boolean; issues: string[] });

/** `files` by path under /p (the first is the project's own compose file). */
export function importFiles(
  files: Record<string, string>,
  options: { profiles?: string[]; dotenv?: Record<string, string>; extra?: string[] } = {},
): TestImport {
  const loaded = loadProject({
    files: [`/p/${Object.keys(files)[0]}`, ...(options.extra ?? []).map((f) => `/p/${f}`)],
    profiles: options.profiles ?? [],
    lookup: importLookup("app", new Map(Object.entries(options.dotenv ?? {}))),
    read: (path) => {
      const name = path.replace(/^\/p\//, "");
      return name in files
        ? { ok: true, text: files[name] as string }
        : { ok: false, missing: true, message: "no such file or directory" };
    },
    display: (path) => path.replace(/^\/p\//, ""),
  });
  if (!loaded.ok) return { ok: false, lines: loaded.lines };
  const converted = convertProject(loaded.project, "app");
  const text = manifestText(converted.manifest, "schema.json", "compose.yml");
  const validated = parseManifest(text, "manifest.yml");
  return {
    ...converted,
    ok: true,
    text,
    valid: validated.ok,
    issues: validated.ok ? [] : validated.issues.map((i) => `${i.path}: ${i.message}`),
  };
}

/** The report's lines as `level file:line subject: message`, for assertions. */
export function shown(lines: readonly ReportLine[]): string[] {
  return lines.map((l) => `${l.level} ${l.file}:${l.line} ${l.subject}: ${l.message}`);
}
