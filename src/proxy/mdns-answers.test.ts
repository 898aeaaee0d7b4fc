/**
 * What the mDNS responder answers: only published names (the node's and its app hosts), A and AAAA
 * with the link's addresses, any case and a trailing dot alike; which links it answers on. Pure
 * (the responder on the wire is test/proxy/mdns.test.ts).
 */
import assert from "node:assert/strict";
import type { NetworkInterfaceInfo } from "node:os";
import { describe, test } from "node:test";
import { mdnsAnswers, mdnsLinks, onSubnet, publishedNames } from "./mdns-answers.ts";

const link = { v4: ["192.168.1.20"], v6: ["2001:db8::20"] };

describe("mDNS answers", () => {
  test("the node's name and each route under it are published, nothing else", () => {
    const names = publishedNames(
      "archy.local",
      new Map([
        ["hello-web", {}],
        ["admin.hello-web", {}],
      ]) as never,
    );
    assert.deepEqual([...names].sort(), [
      "admin.hello-web.archy.local",
      "archy.local",
      "hello-web.archy.local",
    ]);
  });

  test("A and AAAA for a published name, whatever its case or trailing dot; nothing for another", () => {
    const published = new Set(["hello-web.archy.local"]);
    assert.deepEqual(
      mdnsAnswers([{ name: "Hello-Web.archy.local.", type: "A" }], published, link).map((a) => [
        a.type,
        a.data,
      ]),
      [["A", "192.168.1.20"]],
    );
    assert.deepEqual(
      mdnsAnswers([{ name: "hello-web.archy.local", type: "ANY" }], published, link).map((a) => a.type),
      ["A", "AAAA"],
    );
    assert.deepEqual(mdnsAnswers([{ name: "hello-web.archy.local", type: "TXT" }], published, link), []);
    assert.deepEqual(mdnsAnswers([{ name: "other.archy.local", type: "A" }], published, link), []);
    assert.deepEqual(mdnsAnswers([{ name: "archy.local.evil", type: "A" }], published, link), []);
  });

  test("a link answers its own subnet only", () => {
    assert.ok(onSubnet("192.168.1.77", "192.168.1.20", "255.255.255.0"));
    assert.ok(!onSubnet("192.168.2.77", "192.168.1.20", "255.255.255.0"));
    assert.ok(onSubnet("10.9.0.2", "10.9.0.1", "255.255.255.252"));
    assert.ok(!onSubnet("10.9.0.5", "10.9.0.1", "255.255.255.252"));
  });

  test("links: every IPv4 address off loopback, with its interface's global IPv6 addresses", () => {
    const address = (family: "IPv4" | "IPv6", value: string, netmask: string, internal = false) =>
      ({ family, address: value, netmask, internal, mac: "", cidr: null }) as unknown as NetworkInterfaceInfo;
    const links = mdnsLinks({
      lo: [address("IPv4", "127.0.0.1", "255.0.0.0", true)],
      eth0: [
        address("IPv4", "192.168.1.20", "255.255.255.0"),
        address("IPv6", "fe80::1", "ffff:ffff:ffff:ffff::"),
        address("IPv6", "2001:db8::20", "ffff:ffff:ffff:ffff::"),
      ],
    });
    assert.deepEqual(links, [{ v4: "192.168.1.20", netmask: "255.255.255.0", v6: ["2001:db8::20"] }]);
  });
});
