/**
 * Small manifest texts for the validator's tests. Every case starts from the same eight-line minimal
 * manifest and appends lines, so the first added line is always line 9 and positions are predictable.
 */
import assert from "node:assert/strict";
import type { ManifestIssue } from "../../src/manifest/issues.ts";
import { MAX_MANIFEST_BYTES, type ParseResult, parseManifest } from "../../src/manifest/parse.ts";
import { type CostRatio, cpuTimeMs, ratioOf } from "./cpu-time.ts";

export const FILE = "test.yml";

/** A valid manifest: one container, every optional field left out. Lines 1 to 8. */
export const MINIMAL = `manifest: 1
id: hello
version: 1.0.0
name: Hello
description: A test app
containers:
  web:
    image: docker.io/library/nginx:1.27
`;

/** The line number of the first line `withLines` appends. */
export const FIRST = 9;

/**
 * The minimal manifest with `lines` appended verbatim: indent by 4 for a field of containers.web,
 * by 2 for another container, by 0 for a top-level field.
 */
export function withLines(...lines: string[]): string {
  return MINIMAL + lines.map((line) => `${line}\n`).join("");
}

/** The minimal manifest with line `line` (1-based) replaced. */
export function replaceLine(line: number, text: string, base = MINIMAL): string {
  const lines = base.split("\n");
  assert.ok(line >= 1 && line <= lines.length, `line ${line} is outside the text`);
  lines[line - 1] = text;
  return lines.join("\n");
}

export function parse(text: string): ParseResult {
  return parseManifest(text, FILE);
}

/** Parses a text that must be valid, showing the issues when it is not. */
export function expectValid(text: string): Extract<ParseResult, { ok: true }> {
  const result = parse(text);
  assert.ok(
    result.ok,
    `expected a valid manifest, got:\n${result.ok ? "" : showIssues(result.issues)}\n---\n${text}`,
  );
  return result;
}

/** Parses a text that must be invalid and returns all its issues. */
export function issuesOf(text: string): ManifestIssue[] {
  const result = parse(text);
  assert.ok(!result.ok, `expected issues, but the manifest is valid:\n${text}`);
  return result.issues;
}

export type Expected = {
  rule: string;
  path: string;
  line: number;
  column: number;
  /** A pattern (or substring) the message must match. */
  message?: RegExp | string;
  /** A pattern (or substring) the fix must match, e.g. the "did you mean" suggestion. */
  fix?: RegExp | string;
};

/** Asserts that `text` yields an issue with this rule, path and exact position, with a meaningful message and fix. */
export function expectIssue(text: string, expected: Expected): ManifestIssue {
  const issues = issuesOf(text);
  return expectIssueIn(issues, expected);
}

export function expectIssueIn(issues: ManifestIssue[], expected: Expected): ManifestIssue {
  const issue = issues.find((i) => i.rule === expected.rule && i.path === expected.path);
  assert.ok(issue, `no ${expected.rule} issue at ${expected.path}; got:\n${showIssues(issues)}`);
  assert.equal(issue.file, FILE);
  assert.deepEqual(
    { line: issue.line, column: issue.column },
    { line: expected.line, column: expected.column },
    `position of ${expected.rule} at ${expected.path}`,
  );
  assertMeaningful(issue);
  if (expected.message !== undefined) assertMatches(issue.message, expected.message, "message");
  if (expected.fix !== undefined) assertMatches(issue.fix, expected.fix, "fix");
  return issue;
}

/** A message and a fix that say something: not empty, not "undefined", not a bare zod default. */
export function assertMeaningful(issue: ManifestIssue): void {
  for (const field of ["message", "fix"] as const) {
    const text = issue[field];
    assert.equal(typeof text, "string", `${field} of ${issue.rule} is not a string`);
    assert.ok(text.trim().length >= 8, `${field} of ${issue.rule} is too short: ${JSON.stringify(text)}`);
    assert.doesNotMatch(
      text,
      /\bundefined\b|\[object Object\]|\bNaN\b(?! has)/,
      `${field} of ${issue.rule}: ${text}`,
    );
    assert.doesNotMatch(text, /^Invalid input/, `${field} of ${issue.rule} is zod's default: ${text}`);
  }
  assert.notEqual(issue.message, issue.fix, `message and fix of ${issue.rule} are the same`);
}

function assertMatches(text: string, pattern: RegExp | string, what: string): void {
  if (typeof pattern === "string")
    assert.ok(text.includes(pattern), `${what} ${JSON.stringify(text)} lacks ${JSON.stringify(pattern)}`);
  else assert.match(text, pattern, what);
}

export function showIssues(issues: readonly ManifestIssue[]): string {
  return issues
    .map((i) => `  ${i.line}:${i.column} ${i.rule} ${i.path}: ${i.message} (fix: ${i.fix})`)
    .join("\n");
}

/**
 * A valid manifest of at least `bytes` bytes (and at least 4 KiB, the size of a real one): the
 * minimal one with as many plain environment variables as it takes. The cost of reading it is what
 * a manifest of that size should cost.
 */
export function benignManifest(bytes: number): string {
  const lines = [MINIMAL, "    environment:\n"];
  let size = lines.join("").length;
  for (let i = 0; size < Math.max(bytes, 4096); i++) {
    const line = `      VARIABLE_${i}: value-${i}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join("");
}

/** Benign costs by size class (a power of two), measured once per test process. */
const benignCostMs = new Map<number, number>();

/**
 * How many times the CPU cost of parsing a benign manifest of its size (rounded up to a power of
 * two, at least 4 KiB, at most the size limit) parsing `text` costs. A hostile manifest that makes the validator do more
 * than linear work (quadratic key handling, expanding aliases, recursing without end) costs tens to
 * thousands of times more; today's worst hostile file costs under 7 times a benign one.
 */
export function parseCostRatio(text: string, file: string): CostRatio {
  // The largest benign manifest is one line short of the size limit (a larger text is refused unread).
  const size = Math.min(
    2 ** Math.ceil(Math.log2(Math.max(4096, Buffer.byteLength(text, "utf8")))),
    MAX_MANIFEST_BYTES - 64,
  );
  let baselineMs = benignCostMs.get(size);
  if (baselineMs === undefined) {
    const benign = benignManifest(size);
    assert.ok(parseManifest(benign, "benign.yml").ok, "the benign manifest is valid");
    // The validator's code is compiled by then: the first parses of a process cost several times more.
    baselineMs = cpuTimeMs(() => parseManifest(benign, "benign.yml"), 5, 5);
    benignCostMs.set(size, baselineMs);
  }
  return ratioOf(
    cpuTimeMs(() => parseManifest(text, file)),
    baselineMs,
  );
}
