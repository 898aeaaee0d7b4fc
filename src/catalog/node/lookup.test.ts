import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type TargetFile, Targets } from "@tufjs/models";
import { Delegations } from "@tufjs/models/dist/delegations.js";
import { DelegatedRole } from "@tufjs/models/dist/role.js";
import { targetFile } from "../repository.ts";
import { lookUp } from "./lookup.ts";

const FILE = (path: string): TargetFile => targetFile(path, Buffer.from(path));
const expires = "2099-01-01T00:00:00Z";

function role(
  paths: string[],
  delegations: Array<{ name: string; paths: string[]; terminating: boolean }> = [],
) {
  return new Targets({
    version: 1,
    specVersion: "1.0.31",
    expires,
    targets: Object.fromEntries(paths.map((p) => [p, FILE(p)])),
    ...(delegations.length > 0
      ? {
          delegations: new Delegations({
            keys: {},
            roles: Object.fromEntries(
              delegations.map((d) => [
                d.name,
                new DelegatedRole({
                  name: d.name,
                  keyIDs: [],
                  threshold: 1,
                  terminating: d.terminating,
                  paths: d.paths,
                }),
              ]),
            ),
          }),
        }
      : {}),
  });
}

describe("which role answers for a target, as TUF looks it up", () => {
  // The top-level role delegates community.* (terminating) first, then everything to `open`.
  const roles = new Map([
    [
      "targets",
      role(
        ["apps/alpha/1.0.0/manifest.yml"],
        [
          { name: "community", paths: ["apps/community.*/*/*"], terminating: true },
          { name: "open", paths: ["apps/*/*/*"], terminating: false },
        ],
      ),
    ],
    ["community", role(["apps/community.relay/1.0.0/manifest.yml"])],
    ["open", role(["apps/community.other/1.0.0/manifest.yml", "apps/beta/1.0.0/manifest.yml"])],
  ]);
  const none = new Set<string>();

  test("the top-level role first, then the delegation whose paths match", () => {
    assert.deepEqual(lookUp("apps/alpha/1.0.0/manifest.yml", roles, none, 32), { role: "targets" });
    assert.deepEqual(lookUp("apps/community.relay/1.0.0/manifest.yml", roles, none, 32), {
      role: "community",
    });
    assert.deepEqual(lookUp("apps/beta/1.0.0/manifest.yml", roles, none, 32), { role: "open" });
  });

  test("a terminating delegation ends the search: a later role never answers for its paths", () => {
    assert.equal(lookUp("apps/community.other/1.0.0/manifest.yml", roles, none, 32), undefined);
  });

  test("a failing role ends the lookups that reach it, and no other: nobody answers in its place", () => {
    const failed = new Set(["community"]);
    assert.deepEqual(lookUp("apps/community.relay/1.0.0/manifest.yml", roles, failed, 32), {
      failed: "community",
    });
    assert.deepEqual(lookUp("apps/beta/1.0.0/manifest.yml", roles, failed, 32), { role: "open" });
    assert.deepEqual(lookUp("apps/alpha/1.0.0/manifest.yml", roles, failed, 32), { role: "targets" });
  });
});
