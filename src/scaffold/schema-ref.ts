/**
 * Where an app's manifest finds the JSON Schema for editor completion: its first line,
 * `# yaml-language-server: $schema=REF`. The schema is the file `schema/manifest-v1.json` of the
 * Archipelago checkout that runs `archy` (its `$id` is the stable name SCHEMA_ID): an app inside
 * the checkout points at it by a relative path (it moves with the checkout), one elsewhere by its
 * absolute path, which the developer's editor reads on their machine. `--schema REF` (a path or a
 * URL, such as a copy made with `archy app schema > manifest-v1.json`) overrides both.
 */
import { isAbsolute, relative, resolve } from "node:path";
import { CODE_ROOT } from "../system/code-root.ts";

export const SCHEMA_FILE = resolve(CODE_ROOT, "schema/manifest-v1.json");

export function schemaReference(appDir: string, override?: string): string {
  if (override !== undefined) return override;
  const fromApp = relative(resolve(appDir), SCHEMA_FILE);
  const insideCheckout = !relative(CODE_ROOT, resolve(appDir)).startsWith("..");
  return insideCheckout && !isAbsolute(fromApp) ? fromApp : SCHEMA_FILE;
}

/** The line that names the schema, as the first line of a manifest. */
export function schemaLine(reference: string): string {
  return `# yaml-language-server: $schema=${reference}`;
}
