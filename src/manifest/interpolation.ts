/**
 * `${…}` references in environment values: `postgres://app:${secret:db-password}@db/app`. The
 * daemon renders them, never a shell in the container, so a value is exactly what the manifest
 * says with each reference replaced. `$${` writes a literal `${`; a `$` anywhere else is itself.
 * Pure: parsing and the checks that need only the manifest; resolving is the renderers' (model.ts).
 */
import type { Finding, PathSegment } from "./issues.ts";
import type { Manifest } from "./schema.ts";

/** What `${app:…}` can name: facts of the app every backend knows. */
export const APP_FIELDS = ["id", "version"] as const;
export type AppField = (typeof APP_FIELDS)[number];

/** The namespaces a reference can use, with the form of their argument, for messages. */
const NAMESPACES: Record<string, string> = {
  secret: `\${secret:NAME} (one of this app's \`secrets\`)`,
  export: `\${export:APP/NAME} (an export of one of this app's \`dependencies\`)`,
  consumer: `\${consumer:APP/NAME} (this app's own value NAME from one of its \`dependencies\` that declares \`consumers\`: \`name\` or one of its consumer secrets)`,
  app: `\${app:FIELD} (FIELD one of ${APP_FIELDS.join(", ")})`,
};
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const APP_AND_NAME = /^([a-z][a-z0-9.-]*)\/([a-z0-9]([a-z0-9-]*[a-z0-9])?)$/;

export type TemplatePart =
  | { kind: "text"; text: string }
  | { kind: "secret"; secret: string }
  | { kind: "export"; app: string; export: string }
  | { kind: "consumer"; app: string; value: string }
  | { kind: "app"; field: AppField };

export type TemplateError = { message: string; fix: string };

const HOW = `write \${secret:NAME}, \${export:APP/NAME}, \${consumer:APP/NAME} or \${app:FIELD}, or $\${ for a literal \${`;

/** The parts of a value, text and references in order; adjacent text is merged. */
export function parseTemplate(value: string): TemplatePart[] | TemplateError {
  const parts: TemplatePart[] = [];
  const text = (t: string) => {
    if (t === "") return;
    const last = parts.at(-1);
    if (last?.kind === "text") last.text += t;
    else parts.push({ kind: "text", text: t });
  };
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf("${", i);
    if (start < 0) {
      text(value.slice(i));
      break;
    }
    if (start > i && value[start - 1] === "$") {
      // `$${` is a literal `${`: the first `$` escapes the second.
      text(value.slice(i, start - 1));
      text("${");
      i = start + 2;
      continue;
    }
    text(value.slice(i, start));
    const end = value.indexOf("}", start + 2);
    if (end < 0)
      return {
        message: `the reference starting at character ${start + 1} (${JSON.stringify(value.slice(start, start + 24))}) has no closing }`,
        fix: `close it with }, or write $\${ for a literal \${`,
      };
    const reference = value.slice(start + 2, end);
    const part = parseReference(reference);
    if ("message" in part) return part;
    parts.push(part);
    i = end + 1;
  }
  return parts;
}

function parseReference(reference: string): TemplatePart | TemplateError {
  const colon = reference.indexOf(":");
  const namespace = colon < 0 ? reference : reference.slice(0, colon);
  const argument = colon < 0 ? "" : reference.slice(colon + 1);
  const shown = `\${${reference}}`;
  if (!(namespace in NAMESPACES))
    return {
      message: `${shown} is not a reference the platform knows (environment variables of the node or the image are never read)`,
      fix: HOW,
    };
  const form = NAMESPACES[namespace] as string;
  if (namespace === "secret" && NAME.test(argument)) return { kind: "secret", secret: argument };
  if (namespace === "app" && (APP_FIELDS as readonly string[]).includes(argument))
    return { kind: "app", field: argument as AppField };
  const exported = APP_AND_NAME.exec(argument);
  if (namespace === "export" && exported)
    return { kind: "export", app: exported[1] as string, export: exported[2] as string };
  if (namespace === "consumer" && exported)
    return { kind: "consumer", app: exported[1] as string, value: exported[2] as string };
  return { message: `${shown} is not of the form ${form}`, fix: `write ${form}` };
}

/** Whether a value holds a reference (so that it must be rendered), given it parses. */
export function hasReferences(parts: readonly TemplatePart[]): boolean {
  return parts.some((p) => p.kind !== "text");
}

/** A value written back with references as written and `${` escaped: what renders show instead of a secret. */
export function templateSource(parts: readonly TemplatePart[]): string {
  return parts.map(partSource).join("");
}

/**
 * A value with the apps its `${export:APP/…}` references name renamed (a sandbox's prefixed copy of
 * an app and its dependencies); a value that does not parse, or names no app, is returned as is.
 */
export function renameTemplateApps(value: string, renamed: (app: string) => string): string {
  const parts = parseTemplate(value);
  const named = (p: TemplatePart) => p.kind === "export" || p.kind === "consumer";
  if ("message" in parts || !parts.some(named)) return value;
  return templateSource(
    parts.map((p) => (named(p) ? { ...p, app: renamed((p as { app: string }).app) } : p)),
  );
}

function partSource(p: TemplatePart): string {
  if (p.kind === "text") return p.text.replaceAll("${", () => "$${");
  if (p.kind === "secret") return `\${secret:${p.secret}}`;
  if (p.kind === "export") return `\${export:${p.app}/${p.export}}`;
  if (p.kind === "consumer") return `\${consumer:${p.app}/${p.value}}`;
  return `\${app:${p.field}}`;
}

/** Every string environment value of the manifest, with where it is. */
export function environmentTemplates(
  manifest: Manifest,
): Array<{ path: PathSegment[]; key: string; variable: string; parsed: TemplatePart[] | TemplateError }> {
  return Object.entries(manifest.containers).flatMap(([key, container]) =>
    Object.entries(container.environment).flatMap(([variable, value]) =>
      typeof value === "string"
        ? [
            {
              path: ["containers", key, "environment", variable],
              key,
              variable,
              parsed: parseTemplate(value),
            },
          ]
        : [],
    ),
  );
}

/**
 * References that parse and name what the manifest declares: `${secret:…}` one of its secrets,
 * `${export:APP/…}` one of its dependencies (whether APP exports that name is checked where APP's
 * manifest is known: app-set.ts, and when rendering).
 */
export function checkTemplates(manifest: Manifest): Finding[] {
  return environmentTemplates(manifest).flatMap(({ path, parsed }) =>
    checkValueTemplates(manifest, parsed).map((finding) => ({ path, ...finding })),
  );
}

/** The problems of one value's references (an `environment` value, an env_file line). */
export function checkValueTemplates(
  manifest: Manifest,
  parsed: TemplatePart[] | TemplateError,
): Array<Omit<Finding, "path">> {
  if ("message" in parsed) return [{ message: parsed.message, fix: parsed.fix, rule: "interp.syntax" }];
  const findings: Array<Omit<Finding, "path">> = [];
  const secrets = Object.keys(manifest.secrets);
  const dependencies = manifest.dependencies.map((d) => d.id);
  for (const part of parsed) {
    if (part.kind === "secret" && !secrets.includes(part.secret))
      findings.push({
        message: `\${secret:${part.secret}} names a secret that is not declared`,
        fix:
          secrets.length > 0
            ? `use one of: ${secrets.join(", ")}, or declare ${part.secret} under \`secrets\``
            : `declare ${part.secret} under \`secrets\``,
        rule: "ref.secret",
      });
    if ((part.kind === "export" || part.kind === "consumer") && !dependencies.includes(part.app))
      findings.push({
        message: `${partSource(part)}: ${JSON.stringify(part.app)} is not one of this app's dependencies, so ${part.kind === "export" ? "its exports" : "its consumer values"} cannot be used`,
        fix: `add { id: ${part.app} } under \`dependencies\``,
        rule: "ref.dependency",
      });
  }
  return findings;
}
