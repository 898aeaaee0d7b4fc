/**
 * The field reference of manifest v1, generated from the JSON Schema so that the docs cannot drift
 * from the validator: every field, its type, default and description.
 */
type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
};

export type FieldRow = {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
};

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return [...new Set(alternatives.map(typeOf))].join(" \\| ");
  if (schema.type === "array") return `list of ${schema.items ? typeOf(schema.items) : "values"}`;
  if (schema.type === "object") {
    if (schema.properties) return "mapping";
    return "mapping of name → value";
  }
  const range =
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` (${schema.minimum}–${schema.maximum})`
      : "";
  return `${Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type ?? "value")}${range}`;
}

/** Every field of the schema, depth first, with `<name>` for keys chosen by the author and `[]` for list items. */
export function fieldRows(schema: JsonSchema, prefix = ""): FieldRow[] {
  const rows: FieldRow[] = [];
  const visitObject = (object: JsonSchema, base: string) => {
    for (const [key, child] of Object.entries(object.properties ?? {})) {
      const path = base ? `${base}.${key}` : key;
      rows.push({
        path,
        type: typeOf(child),
        required: object.required?.includes(key) ?? false,
        default: child.default,
        description: child.description ?? "",
      });
      rows.push(...fieldRows(child, path));
    }
  };
  const visit = (node: JsonSchema, base: string) => {
    if (node.properties) visitObject(node, base);
    else if (node.type === "object" && typeof node.additionalProperties === "object")
      visit(node.additionalProperties, `${base}.<name>`);
    else if (node.type === "array" && node.items) visit(node.items, `${base}[]`);
    for (const alternative of node.anyOf ?? node.oneOf ?? []) visit(alternative, base);
  };
  visit(schema, prefix);
  const firstByPath = new Map<string, FieldRow>();
  for (const row of rows) if (!firstByPath.has(row.path)) firstByPath.set(row.path, row);
  return [...firstByPath.values()];
}

export function referenceMarkdown(schema: JsonSchema): string {
  const lines = [
    "<!-- Generated from src/manifest/schema.ts by `npm run generate`; do not edit by hand. -->",
    "# Manifest v1 field reference",
    "",
    "Every field of `manifest.yml`, generated from the same schema the validator uses. `<name>` stands",
    "for a key you choose, `[]` for an entry of a list. See [manifest.md](manifest.md) for a guide with examples.",
    "",
    "| Field | Type | Required | Default | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const row of fieldRows(schema)) {
    const def = row.default === undefined ? "" : `\`${JSON.stringify(row.default)}\``;
    lines.push(
      `| \`${row.path}\` | ${row.type} | ${row.required ? "yes" : ""} | ${def} | ${row.description.replace(/\|/g, "\\|")} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}
