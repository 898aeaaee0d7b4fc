import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  allocateSubIds,
  parsePasswd,
  parseSubIds,
  rewriteSubIds,
  SUBID_COUNT,
  SUBID_MIN,
  subIdStatus,
} from "./users.ts";

describe("parsePasswd", () => {
  it("reads name, ids, home and shell, skipping malformed lines", () => {
    const content = [
      "root:x:0:0:root:/root:/bin/bash",
      "# a comment",
      "broken:x:nope:0::/:/bin/sh",
      "short:x:1",
      "archy-test:x:1001:1001::/home/archy-test:/bin/bash",
      "",
    ].join("\n");
    assert.deepEqual(parsePasswd(content), [
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash" },
      { name: "archy-test", uid: 1001, gid: 1001, home: "/home/archy-test", shell: "/bin/bash" },
    ]);
  });
});

describe("parseSubIds", () => {
  it("reads owner:start:count lines and skips comments, blanks and junk", () => {
    const content = "# comment\narchy-test:100000:65536\n\n1002:165536:65536\ngarbage\nx:1:\n";
    assert.deepEqual(parseSubIds(content), [
      { owner: "archy-test", start: 100000, count: 65536 },
      { owner: "1002", start: 165536, count: 65536 },
    ]);
  });
});

describe("subIdStatus", () => {
  const user = { name: "archipelago", uid: 1002 };

  it("accepts a full range of its own", () => {
    const ranges = parseSubIds("archy-test:100000:65536\narchipelago:165536:65536\n");
    assert.deepEqual(subIdStatus(ranges, user), { ok: true, detail: "165536-231071", conflicting: [] });
  });

  it("matches ranges recorded by uid instead of name", () => {
    assert.equal(subIdStatus(parseSubIds("1002:165536:65536\n"), user).ok, true);
  });

  it("fails without a range", () => {
    assert.deepEqual(subIdStatus(parseSubIds("archy-test:100000:65536\n"), user), {
      ok: false,
      detail: "no range",
      conflicting: [],
    });
  });

  it("fails with a range smaller than 65536 ids", () => {
    const status = subIdStatus(parseSubIds("archipelago:165536:1000\n"), user);
    assert.equal(status.ok, false);
    assert.match(status.detail, /smaller than 65536/);
  });

  it("reports ranges overlapping another owner's, even when another range is fine", () => {
    const ranges = parseSubIds(
      "archy-test:100000:65536\narchipelago:150000:65536\narchipelago:300000:65536\n",
    );
    const status = subIdStatus(ranges, user);
    assert.equal(status.ok, false);
    assert.match(status.detail, /overlaps the range of archy-test/);
    assert.deepEqual(status.conflicting, [{ owner: "archipelago", start: 150000, count: 65536 }]);
  });

  it("treats touching ranges as not overlapping", () => {
    const ranges = parseSubIds("archy-test:100000:65536\narchipelago:165536:65536\n");
    assert.equal(subIdStatus(ranges, { name: "archy-test", uid: 1001 }).ok, true);
  });
});

describe("allocateSubIds", () => {
  it("starts at SUBID_MIN on an empty file", () => {
    assert.equal(allocateSubIds([]), SUBID_MIN);
  });

  it("skips taken blocks and fills holes", () => {
    const ranges = parseSubIds("a:100000:65536\nc:231072:65536\n");
    assert.equal(allocateSubIds(ranges), 165536);
  });

  it("never overlaps odd-sized or unaligned ranges", () => {
    const ranges = parseSubIds("a:100000:70000\nb:240000:10\n");
    const start = allocateSubIds(ranges);
    for (const range of ranges) {
      assert.ok(start >= range.start + range.count || start + SUBID_COUNT <= range.start);
    }
    assert.equal(start, 296608);
  });
});

describe("rewriteSubIds", () => {
  it("removes exactly the conflicting lines and appends the new range", () => {
    const content = "archy-test:100000:65536\narchipelago:150000:65536\narchipelago:1500000:65536\n";
    const remove = [{ owner: "archipelago", start: 150000, count: 65536 }];
    const add = { owner: "archipelago", start: 165536, count: 65536 };
    assert.equal(
      rewriteSubIds(content, remove, add),
      "archy-test:100000:65536\narchipelago:1500000:65536\narchipelago:165536:65536\n",
    );
  });

  it("creates content from an empty file", () => {
    assert.equal(rewriteSubIds("", [], { owner: "u", start: 100000, count: 65536 }), "u:100000:65536\n");
  });

  it("keeps a file without a final newline intact", () => {
    assert.equal(rewriteSubIds("a:1:2", [], { owner: "u", start: 3, count: 4 }), "a:1:2\nu:3:4\n");
  });
});
