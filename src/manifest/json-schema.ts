/** The published JSON Schema of manifest v1, derived from the zod schema (the one source of truth). */
import { z } from "zod";
import { ManifestSchema } from "./schema.ts";

export const SCHEMA_ID = "https://archipelago.dev/schema/manifest-v1.json";

export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ManifestSchema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "throw",
  });
  return { ...schema, $id: SCHEMA_ID };
}

/** The file content of schema/manifest-v1.json: stable formatting so the committed file can be compared. */
export function manifestJsonSchemaText(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
}
