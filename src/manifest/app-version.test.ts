import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compareAppVersions,
  isAppVersion,
  isNewerVersion,
  parseAppVersion,
  versionSatisfies,
} from "./app-version.ts";

describe("app versions with a packaging revision", () => {
  test("a revision orders after the version it revises and before the next", () => {
    const ordered = [
      "1.39.16",
      "1.39.17-rc.1",
      "1.39.17",
      "1.39.17-r1",
      "1.39.17-r2",
      "1.39.17-r10",
      "1.39.18",
    ];
    const shuffled = [...ordered].reverse();
    assert.deepEqual(shuffled.sort(compareAppVersions), ordered);
    assert.ok(isNewerVersion("1.39.17-r2", "1.39.17"));
    assert.ok(!isNewerVersion("1.39.17-r2", "1.39.17-r2+build.5"));
    assert.ok(isNewerVersion("1.39.18", "1.39.17-r2"));
  });

  test("a pre-release can be revised too", () => {
    assert.deepEqual(parseAppVersion("2.0.0-beta.1-r3"), { upstream: "2.0.0-beta.1", revision: 3 });
    assert.ok(isNewerVersion("2.0.0-beta.1-r3", "2.0.0-beta.1"));
    assert.ok(isNewerVersion("2.0.0", "2.0.0-beta.1-r3"));
  });

  test("a revision counts from 1 without leading zeros; anything not semver is no version", () => {
    for (const bad of ["1.0.0-r0", "1.0.0-r01", "1.0.0-r0+b", "v1.0.0", "1.0"])
      assert.ok(!isAppVersion(bad), bad);
    for (const good of ["1.0.0", "1.0.0-r1", "1.0.0-rc", "1.0.0-r", "1.0.0-r2+b.1"])
      assert.ok(isAppVersion(good), good);
  });

  test("a dependency's range holds the program's version, whatever its revision", () => {
    assert.ok(versionSatisfies("15.4.0-r2", ">=15 <16"));
    assert.ok(versionSatisfies("15.0.0-r1", "^15.0.0"));
    assert.ok(!versionSatisfies("14.9.0-r9", ">=15"));
  });
});
