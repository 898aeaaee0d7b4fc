/**
 * An app's version: its program's semantic version, optionally followed by a packaging revision
 * (`1.39.17-r2`: the second packaging of 1.39.17). A revision is the packager's to raise when the
 * manifest or image changes but the program does not; it orders after the version it revises and
 * before the next one (1.39.17 < 1.39.17-r2 < 1.39.18). Semver alone reads `-r2` as a pre-release,
 * ordered *before* 1.39.17, so every comparison of app versions goes through `compareAppVersions`,
 * never through semver directly.
 */
import semver from "semver";

/**
 * A semantic version (semver.org 2.0.0), whose pre-release may end in `-r<N>`: a revision, counted
 * from 1 without leading zeros (`-r0` and `-r01` are refused: a pre-release named so would be read as
 * a revision).
 */
export const APP_VERSION =
  /^(?!.*-r0\d*(\+|$))(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export const APP_VERSION_REQUIREMENT =
  "must be a semantic version such as 1.2.3, optionally with a packaging revision counted from 1 (1.2.3-r2)";

/** The program's version and the packaging revision (0: none). */
export type AppVersion = { upstream: string; revision: number };

export const isAppVersion = (text: string): boolean => APP_VERSION.test(text);

/** The parts of a valid app version; throws on an invalid one (callers hold validated versions). */
export function parseAppVersion(text: string): AppVersion {
  if (!isAppVersion(text)) throw new Error(`${JSON.stringify(text)} is not an app version`);
  const plus = text.indexOf("+");
  const main = plus === -1 ? text : text.slice(0, plus);
  const revised = /^(?<upstream>.*)-r(?<revision>[1-9]\d*)$/.exec(main)?.groups;
  return revised?.upstream && revised.revision
    ? { upstream: revised.upstream, revision: Number(revised.revision) }
    : { upstream: main, revision: 0 };
}

/** Negative, zero or positive as `a` is older than, the same as or newer than `b`. */
export function compareAppVersions(a: string, b: string): number {
  const left = parseAppVersion(a);
  const right = parseAppVersion(b);
  return semver.compare(left.upstream, right.upstream) || Math.sign(left.revision - right.revision);
}

export const isNewerVersion = (candidate: string, than: string): boolean =>
  compareAppVersions(candidate, than) > 0;

/**
 * Whether a version is in a dependency's semver range: its program's version is (a packaging
 * revision changes how it is packaged, not what it provides).
 */
export const versionSatisfies = (version: string, range: string): boolean =>
  isAppVersion(version) && semver.satisfies(parseAppVersion(version).upstream, range);
