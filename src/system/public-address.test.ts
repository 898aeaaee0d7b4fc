import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { isPublicAddress, publicOnlyDispatcher, refusedUrl } from "./public-address.ts";

describe("public addresses", () => {
  test("special-purpose addresses are not public, in every spelling", () => {
    for (const address of [
      "127.0.0.1",
      "127.1.2.3",
      "10.0.0.8",
      "172.16.4.4",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254", // cloud metadata
      "100.64.0.1",
      "0.0.0.0",
      "::",
      "::1",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "fe80::1",
      "fd12:3456::1",
      "ff02::1",
      "not an address",
    ])
      assert.equal(isPublicAddress(address), false, address);
  });

  test("addresses of the internet are public", () => {
    for (const address of [
      "1.1.1.1",
      "93.184.216.34",
      "172.32.0.1",
      "2606:4700:4700::1111",
      "::ffff:1.1.1.1",
    ])
      assert.equal(isPublicAddress(address), true, address);
  });

  test("a URL with a literal private address is refused before any connection, unless its host is trusted", () => {
    const none = { trustedHosts: new Set<string>() };
    assert.match(
      refusedUrl(new URL("http://127.0.0.1:8080/b.tar"), none) ?? "",
      /127\.0\.0\.1 is not a public address/,
    );
    assert.match(refusedUrl(new URL("http://[::1]/b.tar"), none) ?? "", /::1 is not a public address/);
    assert.match(refusedUrl(new URL("http://169.254.169.254/latest"), none) ?? "", /not a public address/);
    assert.equal(
      refusedUrl(new URL("http://127.0.0.1:8080/b.tar"), { trustedHosts: new Set(["127.0.0.1"]) }),
      undefined,
    );
    assert.equal(
      refusedUrl(new URL("https://mirror.example/b.tar"), none),
      undefined,
      "names are checked at connect",
    );
  });
});

describe("invariant: a node never connects to its own or its LAN's services for a stranger's URL", () => {
  let server: Server;
  let port: number;
  let hits = 0;
  before(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end("internal");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  test("a name that resolves to loopback is refused at connect: no request reaches the service", async () => {
    const dispatcher = publicOnlyDispatcher({ trustedHosts: new Set() });
    try {
      await assert.rejects(
        request(`http://localhost:${port}/`, { dispatcher }),
        (error: Error & { code?: string }) => {
          assert.match(
            `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}`,
            /no public address|ENOTPUBLIC/,
          );
          return true;
        },
      );
      assert.equal(hits, 0);
    } finally {
      await dispatcher.close();
    }
  });

  test("the same name, trusted by the operator (a relay's host), is reached", async () => {
    const dispatcher = publicOnlyDispatcher({ trustedHosts: new Set(["localhost"]) });
    try {
      const response = await request(`http://localhost:${port}/`, { dispatcher });
      assert.equal(await response.body.text(), "internal");
      assert.equal(hits, 1);
    } finally {
      await dispatcher.close();
    }
  });
});
