import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { explainFailure, NamespaceError, TamperedTargetError } from "./failure.ts";
import { TooLargeError } from "./fetcher.ts";

describe("explaining a failed refresh", () => {
  const cases: Array<[string, unknown, "metadata" | "targets", string]> = [
    ["rollback", new Error("New timestamp version 1 is less than current version 2"), "metadata", "rollback"],
    ["root rollback", new Error("Expected version 3, got 2"), "metadata", "rollback"],
    [
      "freeze",
      new Error("Unable to load snapshot metadata error Error: Final timestamp.json is expired"),
      "metadata",
      "freeze",
    ],
    ["threshold", new Error("targets was signed by 1/2 keys"), "metadata", "below-threshold"],
    [
      "endless",
      new TooLargeError("http://127.0.0.1/metadata/timestamp.json", 16384),
      "metadata",
      "endless-data",
    ],
    [
      "mix",
      new Error("Unable to load targets error Error: Expected hash aa but got bb"),
      "metadata",
      "mix-and-match",
    ],
    [
      "mix version",
      new Error("Version 1 of targets does not match snapshot version 2"),
      "metadata",
      "mix-and-match",
    ],
    [
      "tampered",
      new Error("target apps/a/1.0.0/manifest.yml: Expected hash aa but got bb"),
      "targets",
      "tampered",
    ],
    ["blake3", new TamperedTargetError("apps/a/1.0.0/x: BLAKE3 aa differs"), "targets", "tampered"],
    ["namespace", new NamespaceError("role community signed apps/alpha/…"), "targets", "namespace"],
    ["unreachable", new Error("fetch failed"), "metadata", "unreachable"],
    ["other", new Error("Unexpected token } in JSON"), "metadata", "invalid"],
  ];
  for (const [name, error, stage, kind] of cases)
    test(`${name} → ${kind}`, () => {
      const failure = explainFailure(error, stage);
      assert.equal(failure.kind, kind, failure.message);
      assert.doesNotMatch(failure.message, /Unable to load/, "the client's wrapping is dropped");
      assert.ok(failure.fix.length > 20);
    });
});
