import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DelegatedRole } from "@tufjs/models/dist/role.js";
import {
  consistentTargetPath,
  namespaceOf,
  namespacePatterns,
  parseTargetPath,
  targetPath,
} from "./layout.ts";

describe("catalog layout", () => {
  test("target paths of app versions round-trip, and paths outside the layout are not apps", () => {
    const path = targetPath("community.relay", "1.2.0", "files/www/index.html");
    assert.equal(path, "apps/community.relay/1.2.0/files/www/index.html");
    assert.deepEqual(parseTargetPath(path), {
      appId: "community.relay",
      version: "1.2.0",
      file: "files/www/index.html",
    });
    for (const outside of [
      "index.json",
      "apps/Bad_Id/1.0.0/manifest.yml",
      "apps/alpha/1.0.0/../../x",
      "apps/alpha/1.0.0/a/b/c/d/e",
      "other/alpha/1.0.0/manifest.yml",
    ])
      assert.equal(parseTargetPath(outside), undefined, outside);
  });

  test("a namespace delegation covers every file of its apps and nothing else, as TUF matches paths", () => {
    const role = new DelegatedRole({
      name: "community",
      keyIDs: ["k"],
      threshold: 1,
      terminating: true,
      paths: namespacePatterns("community"),
    });
    for (const file of ["manifest.yml", "icon.svg", "files/a.conf", "files/www/static/app.js"])
      assert.ok(role.isDelegatedPath(targetPath("community.relay", "1.0.0", file)), file);
    for (const path of [
      targetPath("alpha", "1.0.0", "manifest.yml"),
      targetPath("communityx.relay", "1.0.0", "manifest.yml"),
      targetPath("other.community", "1.0.0", "manifest.yml"),
    ])
      assert.ok(!role.isDelegatedPath(path), path);
  });

  test("namespaces and consistent-snapshot names", () => {
    assert.equal(namespaceOf("community.relay"), "community");
    assert.equal(namespaceOf("alpha"), undefined);
    assert.equal(consistentTargetPath("apps/a/1.0.0/files/x.txt", "ab"), "apps/a/1.0.0/files/ab.x.txt");
  });
});
