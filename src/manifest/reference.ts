/**
 * The field reference of manifest v1, generated from the JSON Schema so that the docs cannot drift
 * from the validator: every field, its type, default and description.
 *
 * A union of mappings (`anyOf`/`oneOf` with several object branches, such as a health check's
 * `type: http | tcp | exec` or an export's `{value} | {host} | {secret}`) is one of several *forms*:
 * every form's fields are listed, once per path, each saying in which forms it exists and in which
 * it is required. A form is named by its discriminator (a property that is a different constant in
 * every form, such as `type`), else by its required keys.
 */
export type JsonSchema = {
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
  /** Required in every form of the enclosing unions (false when only some forms require it). */
  required: boolean;
  /** When only some forms of an enclosing union require the field: which, e.g. 'with `type: "tcp"`'. */
  requiredWhen?: string;
  default?: unknown;
  description: string;
};

/** How a union's object branches are told apart. */
type Forms = {
  branches: JsonSchema[];
  /** The property that is a distinct constant in every branch, if there is one. */
  discriminator?: string;
  /** Each branch's name: its discriminator's value (JSON), else `{key, key}` of its required keys. */
  names: string[];
};

const alternativesOf = (schema: JsonSchema): JsonSchema[] | undefined => schema.anyOf ?? schema.oneOf;

/** The object branches of a union, when there are at least two (a lone one is just a mapping). */
function formsOf(schema: JsonSchema): Forms | undefined {
  const branches = (alternativesOf(schema) ?? []).filter((a) => a.properties);
  if (branches.length < 2) return undefined;
  const first = branches[0] as JsonSchema;
  const discriminator = Object.keys(first.properties ?? {}).find((key) => {
    const values = branches.map((b) => b.properties?.[key]?.const);
    return (
      values.every((v) => v !== undefined) &&
      new Set(values.map((v) => JSON.stringify(v))).size === values.length
    );
  });
  const names = branches.map((b) =>
    discriminator !== undefined
      ? JSON.stringify(b.properties?.[discriminator]?.const)
      : `{${(b.required?.length ? b.required : Object.keys(b.properties ?? {})).join(", ")}}`,
  );
  return { branches, discriminator, names };
}

/** "a", "a or b", "a, b or c". */
function either(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** Where some of a union's forms apply: 'with `type: "tcp"`', 'with `type` "http" or "tcp"', 'in the `{exec}` form'. */
function formCondition(forms: Forms, indexes: number[]): string {
  const names = indexes.map((i) => forms.names[i] as string);
  if (forms.discriminator === undefined)
    return `in the ${either(names.map((n) => `\`${n}\``))} form${names.length > 1 ? "s" : ""}`;
  return names.length === 1
    ? `with \`${forms.discriminator}: ${names[0]}\``
    : `with \`${forms.discriminator}\` ${either(names)}`;
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  const forms = formsOf(schema);
  if (forms?.discriminator !== undefined)
    return `mapping by \`${forms.discriminator}\`: ${forms.names.join(" \\| ")}`;
  const alternatives = alternativesOf(schema);
  if (alternatives) {
    const types = alternatives.map((alternative) => {
      const form = forms?.branches.indexOf(alternative) ?? -1;
      return form >= 0 ? `\`${forms?.names[form]}\`` : typeOf(alternative);
    });
    return [...new Set(types)].join(" \\| ");
  }
  if (schema.type === "array") return `list of ${schema.items ? typeOf(schema.items) : "values"}`;
  if (schema.type === "object") {
    if (schema.properties) return "mapping";
    if (typeof schema.additionalProperties === "object" && formsOf(schema.additionalProperties))
      return `mapping of name → ${typeOf(schema.additionalProperties)}`;
    return "mapping of name → value";
  }
  const range =
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` (${schema.minimum}–${schema.maximum})`
      : "";
  return `${Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type ?? "value")}${range}`;
}

/**
 * The rows of a union's forms, merged by path. A field directly in the forms says in which forms it
 * exists and in which it is required; a deeper one is relative to its parent, as everywhere else.
 */
function formRows(forms: Forms, base: string): FieldRow[] {
  const byPath = new Map<string, Array<{ form: number; row: FieldRow }>>();
  forms.branches.forEach((branch, form) => {
    for (const row of fieldRows(branch, base))
      byPath.set(row.path, [...(byPath.get(row.path) ?? []), { form, row }]);
  });
  const formName = (form: number) =>
    forms.discriminator === undefined
      ? `\`${forms.names[form]}\``
      : `\`${forms.discriminator}: ${forms.names[form]}\``;
  return [...byPath].map(([path, entries]) => {
    const key = base ? path.slice(base.length + 1) : path;
    const direct = /^[^.[]+$/.test(key);
    const present = entries.map((e) => e.form);
    const requiredIn = entries.filter((e) => e.row.required).map((e) => e.form);
    const first = entries[0]?.row as FieldRow;
    const descriptions = new Set(entries.map((e) => e.row.description));
    const description =
      descriptions.size === 1
        ? first.description
        : entries
            .map(({ form, row }) =>
              key === forms.discriminator
                ? `${forms.names[form]}: ${row.description}`
                : `With ${formName(form)}: ${row.description}`,
            )
            .join(" ");
    // Where the field exists, unless everywhere or the forms are named after it (`{exec}`).
    const namesItsForms =
      key === forms.discriminator ||
      (forms.discriminator === undefined &&
        present.every((form) => (forms.names[form] as string).slice(1, -1).split(", ").includes(key)));
    const only =
      direct && present.length < forms.branches.length && !namesItsForms
        ? ` Only ${formCondition(forms, present)}.`
        : "";
    const nested = entries.find((e) => e.row.requiredWhen)?.row.requiredWhen;
    const everywhere = requiredIn.length === (direct ? forms.branches.length : present.length);
    const required = everywhere && nested === undefined;
    const condition =
      requiredIn.length === 0 || required
        ? undefined
        : everywhere
          ? nested
          : `${formCondition(forms, requiredIn)}${nested ? `, ${nested}` : ""}`;
    return {
      path,
      type: [...new Set(entries.map((e) => e.row.type))].join(" \\| "),
      required,
      ...(condition === undefined ? {} : { requiredWhen: condition }),
      default: first.default,
      description: `${description}${only}`,
    };
  });
}

/** Every field of the schema, depth first, with `<name>` for keys chosen by the author and `[]` for list items. */
export function fieldRows(schema: JsonSchema, prefix = ""): FieldRow[] {
  const rows: FieldRow[] = [];
  const visit = (node: JsonSchema, base: string) => {
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) {
        const path = base ? `${base}.${key}` : key;
        rows.push({
          path,
          type: typeOf(child),
          required: node.required?.includes(key) ?? false,
          default: child.default,
          description: child.description ?? "",
        });
        visit(child, path);
      }
    } else if (node.type === "object" && typeof node.additionalProperties === "object")
      visit(node.additionalProperties, `${base}.<name>`);
    else if (node.type === "array" && node.items) visit(node.items, `${base}[]`);
    const forms = formsOf(node);
    if (forms) rows.push(...formRows(forms, base));
    else for (const alternative of alternativesOf(node) ?? []) visit(alternative, base);
  };
  visit(schema, prefix);
  const firstByPath = new Map<string, FieldRow>();
  for (const row of rows) if (!firstByPath.has(row.path)) firstByPath.set(row.path, row);
  return [...firstByPath.values()];
}

/** The Required cell of a row: "yes", the forms that require it, or nothing. */
export function requiredCell(row: FieldRow): string {
  return row.required ? "yes" : row.requiredWhen ? `yes, ${row.requiredWhen}` : "";
}

export function referenceMarkdown(schema: JsonSchema): string {
  const lines = [
    "<!-- Generated from src/manifest/schema.ts by `npm run generate`; do not edit by hand. -->",
    "# Manifest v1 field reference",
    "",
    "Every field of `manifest.yml`, generated from the same schema the validator uses. `<name>` stands",
    "for a key you choose, `[]` for an entry of a list. See [manifest.md](manifest.md) for a guide with examples.",
    "",
    'Some values take one of several forms: a health check is `type: "http"`, `"tcp"` or `"exec"`, an',
    "export is `{value}`, `{host}` or `{secret}`. Their fields are listed once, each saying in which forms",
    'it exists ("Only with …") and in which it is required; a field of another form is refused.',
    "",
    "| Field | Type | Required | Default | Description |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const row of fieldRows(schema)) {
    const def = row.default === undefined ? "" : `\`${JSON.stringify(row.default)}\``;
    lines.push(
      `| \`${row.path}\` | ${row.type} | ${requiredCell(row)} | ${def} | ${row.description.replace(/\|/g, "\\|")} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}
