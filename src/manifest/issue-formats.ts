/**
 * Validation results in the formats CI systems read: GitHub Actions workflow commands (annotations
 * on the pull request's lines) and SARIF 2.1.0 (GitHub code scanning and other viewers). Pure.
 */
import type { ManifestIssue } from "./issues.ts";

/** What `archy app validate` found for one manifest. */
export type ValidatedApp = {
  file: string;
  id?: string;
  valid: boolean;
  issues: ManifestIssue[];
  notes: ManifestIssue[];
};

/** A workflow command's message: `%`, CR and LF escaped (GitHub's rules). */
const escapeData = (text: string) => text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
/** A workflow command's property: the data escapes, and `:` and `,`, which separate properties. */
const escapeProperty = (text: string) => escapeData(text).replace(/:/g, "%3A").replace(/,/g, "%2C");

/** `::error file=…,line=…,col=…,title=…::message` for each problem, `::notice` for each note. */
export function githubAnnotations(apps: readonly ValidatedApp[]): string[] {
  const command = (kind: "error" | "notice", issue: ManifestIssue) => {
    const properties = [`file=${escapeProperty(issue.file)}`];
    if (issue.line > 0) properties.push(`line=${issue.line}`, `col=${issue.column}`);
    properties.push(`title=${escapeProperty(`archy ${issue.rule}`)}`);
    return `::${kind} ${properties.join(",")}::${escapeData(`${issue.path}: ${issue.message} (fix: ${issue.fix})`)}`;
  };
  return apps.flatMap((app) => [
    ...app.issues.map((issue) => command("error", issue)),
    ...app.notes.map((note) => command("notice", note)),
  ]);
}

export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

/** A relative file path as a URI reference: each segment percent-encoded, `/` between them. */
function fileUri(file: string): string {
  return file
    .split(/[\\/]/)
    .map((segment, index) => (index === 0 && segment === "" ? "" : encodeURIComponent(segment)))
    .join("/");
}

/**
 * A SARIF 2.1.0 log of one run of `archy app validate`: one result per problem (`error`) and note
 * (`note`), each with its rule, file and place; every rule that fired described once.
 */
export function sarifLog(
  apps: readonly ValidatedApp[],
  tool: { version: string; informationUri: string },
): Record<string, unknown> {
  const all = apps.flatMap((app) => [
    ...app.issues.map((issue) => ({ issue, level: "error" as const })),
    ...app.notes.map((issue) => ({ issue, level: "note" as const })),
  ]);
  const rules = [...new Set(all.map(({ issue }) => issue.rule))].sort();
  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "archy app validate",
            version: tool.version,
            informationUri: tool.informationUri,
            rules: rules.map((id) => ({ id, shortDescription: { text: `manifest rule ${id}` } })),
          },
        },
        columnKind: "utf16CodeUnits",
        results: all.map(({ issue, level }) => ({
          ruleId: issue.rule,
          ruleIndex: rules.indexOf(issue.rule),
          level,
          message: { text: `${issue.path}: ${issue.message} (fix: ${issue.fix})` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: fileUri(issue.file) },
                ...(issue.line > 0 ? { region: { startLine: issue.line, startColumn: issue.column } } : {}),
              },
            },
          ],
        })),
      },
    ],
  };
}
