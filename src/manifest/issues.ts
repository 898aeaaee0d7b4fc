/** A problem found in a manifest: where it is, what is wrong, and how to fix it. */
export type ManifestIssue = {
  file: string;
  /** 1-based; 0 when the problem is not tied to a place in the file (e.g. an unreadable file). */
  line: number;
  column: number;
  /** The field, as a dotted path with [indexes]: `containers.web.ports[0].host`. */
  path: string;
  message: string;
  fix: string;
  /** A stable identifier of the rule that was broken, for tooling and tests. */
  rule: string;
};

/** A problem found by a pure check, before it is placed in a file. */
export type Finding = {
  path: PathSegment[];
  message: string;
  fix: string;
  rule: string;
  /** Point at the key rather than its value (for keys that should not be there). */
  at?: "key" | "value";
};
export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out || "(document)";
}

/** `file:line:col: path: message (fix: …)` — the shape editors and terminals turn into links. */
export function formatIssue(issue: ManifestIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${where}: ${issue.path}: ${issue.message}\n    fix: ${issue.fix}`;
}

export function compareIssues(a: ManifestIssue, b: ManifestIssue): number {
  return (
    a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.path.localeCompare(b.path)
  );
}
