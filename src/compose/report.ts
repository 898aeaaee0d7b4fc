/**
 * The import report: one line per thing the developer should know about the conversion, placed
 * at the compose file's line. Levels say what the developer has to do:
 *
 * - `info`: carried over in another form, nothing to do (`TZ` set to UTC, a bind mount into the
 *   app's data that became an app volume);
 * - `review`: carried over as the compose file had it, but worth a look (a fixed password every
 *   install shares, a guessed web page);
 * - `decide`: not carried over, or carried over with a different behaviour (privileged, host
 *   network, the Docker socket): the app may not work as before until the developer decides;
 * - `error`: the file cannot be imported (not YAML, not compose, a missing env file).
 *
 * An import "with no manual step" is one with a valid manifest and no `decide` or `error` line.
 * Pure.
 */

export type Level = "info" | "review" | "decide" | "error";

export type ReportLine = {
  level: Level;
  file: string;
  /** 1-based; 0 when the line is about the file as a whole. */
  line: number;
  column: number;
  /** The compose field it is about, as a dotted path (`services.web.ports[0]`), or `(file)`. */
  subject: string;
  /** What was found and what was done. */
  message: string;
  /** What the developer must do or decide (review, decide, error), or how to change it (info). */
  action?: string;
};

const ORDER: Record<Level, number> = { error: 0, decide: 1, review: 2, info: 3 };

export function compareLines(a: ReportLine, b: ReportLine): number {
  return (
    ORDER[a.level] - ORDER[b.level] ||
    a.file.localeCompare(b.file) ||
    a.line - b.line ||
    a.column - b.column ||
    a.subject.localeCompare(b.subject)
  );
}

/** `file:line:col: level: subject: message` and, indented, what to do. */
export function formatLine(line: ReportLine): string {
  const where = line.line > 0 ? `${line.file}:${line.line}:${line.column}` : line.file;
  const head = `${where}: ${line.level}: ${line.subject}: ${line.message}`;
  return line.action ? `${head}\n    ${line.level === "info" ? "to change" : "to do"}: ${line.action}` : head;
}

export function countByLevel(lines: readonly ReportLine[]): Record<Level, number> {
  const counts: Record<Level, number> = { error: 0, decide: 0, review: 0, info: 0 };
  for (const line of lines) counts[line.level]++;
  return counts;
}

/** The report as Markdown, for the app directory (IMPORT.md). */
export function reportMarkdown(source: string, lines: readonly ReportLine[]): string {
  const counts = countByLevel(lines);
  const sections: Array<[Level, string, string]> = [
    [
      "decide",
      "To decide",
      "Not carried over, or carried over with a different behaviour: the app may not work as before until you decide.",
    ],
    ["review", "To review", "Carried over as the compose file had it, but worth a look."],
    ["info", "Carried over in another form", "Nothing to do; each line says how to change it."],
  ];
  const out = [
    `# Import report`,
    "",
    `Imported from \`${source}\` by \`archy app import\`: ${counts.decide} to decide, ${counts.review} to review, ${counts.info} for information.`,
    "Each line names the place in the compose file it is about. Delete this file once you have gone through it.",
  ];
  for (const [level, title, intro] of sections) {
    const mine = lines.filter((l) => l.level === level);
    if (mine.length === 0) continue;
    out.push("", `## ${title}`, "", intro, "");
    for (const line of mine) {
      const where = line.line > 0 ? `${line.file}:${line.line}` : line.file;
      out.push(
        `- \`${where}\` \`${line.subject}\`: ${line.message}${line.action ? ` — ${line.action}` : ""}`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}
