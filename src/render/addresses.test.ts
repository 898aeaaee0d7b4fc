import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Manifest } from "../manifest/schema.ts";
import {
  exportedHosts,
  fixedAddress,
  formatIpv4,
  freeSubnet,
  networkSubnet,
  overlaps,
  parseCidr,
  parseIpv4,
} from "./addresses.ts";

/** Only what the address rules read: the exports. */
function withExports(exports: Record<string, unknown>): Manifest {
  return { exports } as unknown as Manifest;
}

describe("fixed addresses", () => {
  test("IPv4 text and numbers round-trip; anything else is refused", () => {
    assert.equal(formatIpv4(parseIpv4("10.89.7.254") as number), "10.89.7.254");
    for (const bad of ["10.89.7", "10.89.7.256", "a.b.c.d", "10.89.7.1.2", "fd00::1"])
      assert.equal(parseIpv4(bad), undefined, bad);
    assert.deepEqual(parseCidr("10.89.7.9/24"), { base: parseIpv4("10.89.7.0"), size: 256 });
    assert.equal(parseCidr("fd00::/64"), undefined);
    assert.equal(parseCidr("10.89.7.0/33"), undefined);
  });

  test("exported containers count down from the top of the subnet, above Podman's leases", () => {
    const manifest = withExports({
      rpc: { host: "node" },
      p2p: { host: "node" },
      index: { host: "indexer" },
      port: { value: 8332 },
    });
    assert.deepEqual(exportedHosts(manifest), ["indexer", "node"]);
    assert.equal(fixedAddress(manifest, "indexer", "10.89.7.0/24"), "10.89.7.254");
    assert.equal(fixedAddress(manifest, "node", "10.89.7.0/24"), "10.89.7.253");
    assert.equal(fixedAddress(manifest, "web", "10.89.7.0/24"), undefined, "not exported");
    assert.equal(fixedAddress(manifest, "node", undefined), undefined, "subnet unknown");
    assert.equal(fixedAddress(manifest, "node", "fd00::/64"), undefined, "not IPv4");
    assert.equal(fixedAddress(manifest, "node", "10.89.7.0/30"), undefined, "no room");
    // A subnet Podman chose (a /16 default network, say): still above the lease limit of a /24.
    assert.equal(fixedAddress(manifest, "node", "10.88.0.0/16"), "10.88.255.253");
  });

  test("an app network on a /24: gateway .1, Podman leases .2 to .199, the rest is fixed", () => {
    assert.deepEqual(networkSubnet("10.89.7.0/24"), {
      subnet: "10.89.7.0/24",
      gateway: "10.89.7.1",
      lease_range: { start_ip: "10.89.7.2", end_ip: "10.89.7.199" },
    });
    assert.equal(networkSubnet("10.88.0.0/16"), undefined);
    assert.equal(networkSubnet(undefined), undefined);
  });

  test("the free subnet overlaps no network and no host address", () => {
    assert.equal(freeSubnet([]), "10.89.0.0/24");
    assert.equal(freeSubnet(["10.89.0.0/24", "10.89.1.0/24", "10.89.3.0/24"]), "10.89.2.0/24");
    assert.equal(freeSubnet(["10.89.0.0/23", "10.89.2.17/32"]), "10.89.3.0/24");
    assert.equal(freeSubnet(["10.88.0.0/15"]), undefined, "the whole pool is taken");
    assert.ok(overlaps("10.89.2.0/24", "10.89.0.0/16"));
    assert.ok(!overlaps("10.89.2.0/24", "10.89.3.0/24"));
    assert.ok(!overlaps("10.89.2.0/24", "fd00::/64"));
  });
});
