/**
 * Host addresses in one spelling: a port bound to the same address written two ways is one
 * address, so clashes are found whatever the spelling (the wildcard `::` written longhand was not).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, withLines } from "../../test/support/manifest-text.ts";
import { checkAppSet } from "./app-set.ts";
import { bindsOverlap, canonicalIp } from "./ip-address.ts";
import { parseManifest } from "./parse.ts";

describe("canonicalIp", () => {
  const cases: Array<[string, string]> = [
    ["0.0.0.0", "0.0.0.0"],
    ["127.0.0.1", "127.0.0.1"],
    ["::", "::"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0000:0000:0000:0000:0000:0000:0000:0000", "::"],
    ["::0.0.0.0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::FFFF:7f00:1", "127.0.0.1"],
    ["::ffff:0.0.0.0", "0.0.0.0"],
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["fe80:0000::0001", "fe80::1"],
  ];
  for (const [text, canonical] of cases)
    test(`${text} is ${canonical}`, () => assert.equal(canonicalIp(text), canonical));

  test("the wildcards overlap every address; other addresses only themselves", () => {
    assert.ok(bindsOverlap("::", "127.0.0.1"));
    assert.ok(bindsOverlap("10.0.0.1", "0.0.0.0"));
    assert.ok(bindsOverlap("::1", "::1"));
    assert.ok(!bindsOverlap("127.0.0.1", "::1"));
  });
});

describe("host port clashes whatever the spelling of the address", () => {
  test("the IPv6 wildcard written longhand clashes with another bind of the port", () => {
    expectIssue(
      withLines(
        "    ports:",
        '      - { container: 80, host: 8080, bind: "0:0:0:0:0:0:0:0" }',
        '      - { container: 81, host: 8080, bind: "127.0.0.1" }',
      ),
      {
        rule: "clash.host-port",
        path: "containers.web.ports[1].host",
        line: FIRST + 2,
        column: 32,
        message: "host port 8080/tcp is published twice",
      },
    );
  });

  test("an IPv4-mapped address is its IPv4 address", () => {
    expectIssue(
      withLines(
        "    ports:",
        '      - { container: 80, host: 8080, bind: "::ffff:127.0.0.1" }',
        '      - { container: 81, host: 8080, bind: "127.0.0.1" }',
      ),
      { rule: "clash.host-port", path: "containers.web.ports[1].host", line: FIRST + 2, column: 32 },
    );
  });

  test("the manifest holds the canonical spelling, which every backend gets", () => {
    const { manifest } = expectValid(
      withLines("    ports:", '      - { container: 80, host: 8080, bind: "0000:0:0:0:0:0:0:0001" }'),
    );
    assert.equal(manifest.containers.web?.ports[0]?.bind, "::1");
  });

  test("two apps: the longhand wildcard of one clashes with the other's address", () => {
    const app = (id: string, bind: string) => {
      const parsed = parseManifest(
        `manifest: 1\nid: ${id}\nversion: 1.0.0\nname: A\ndescription: d\ncontainers:\n  web:\n    image: docker.io/library/nginx:1.27\n    ports: [{ container: 80, host: 8080, bind: "${bind}" }]\n`,
        `${id}.yml`,
      );
      assert.ok(parsed.ok);
      return { manifest: parsed.manifest, file: `${id}.yml` };
    };
    const findings = checkAppSet([app("one", "0:0:0:0:0:0:0:0"), app("two", "10.0.0.2")]);
    assert.deepEqual(
      findings.map((f) => [f.file, f.rule]),
      [
        ["one.yml", "set.host-port"],
        ["two.yml", "set.host-port"],
      ],
    );
  });
});
