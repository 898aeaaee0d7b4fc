/**
 * Host routing, return addresses and public paths: pure rules, tested on their own (the daemon's
 * behaviour is test/proxy/protocol.test.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseManifest } from "../manifest/parse.ts";
import type { Manifest } from "../manifest/schema.ts";
import { isCanonicalPath, matchesPublicPath, openWithoutLogin } from "./access-rules.ts";
import { interfaceHost, nodeSuffixes, parseHost, type RoutedApp, routeHost, routeTable } from "./hosts.ts";
import { returnTarget } from "./return-url.ts";

function manifestOf(id: string, interfaces: string): Manifest {
  const parsed = parseManifest(
    `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: A test app
containers:
  web:
    image: localhost/archy-test/busybox:1
    ports:
      - { container: 8080, host: 18080 }
      - { container: 9090, host: 19090 }
interfaces:
${interfaces}
`,
    "test.yml",
  );
  assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.issues));
  return parsed.manifest;
}

const apps: RoutedApp[] = [
  {
    id: "hello-web",
    manifest: manifestOf(
      "hello-web",
      "  ui: { container: web, port: 8080 }\n  admin: { container: web, port: 9090 }",
    ),
    unapproved: new Set(),
  },
  {
    id: "alice.relay",
    manifest: manifestOf("alice.relay", "  web: { container: web, port: 8080, auth: none }"),
    unapproved: new Set(),
  },
  {
    id: "held",
    manifest: manifestOf("held", "  ui: { container: web, port: 8080, auth: none }"),
    unapproved: new Set(["interface.ui"]),
  },
];
const table = routeTable(apps);
const suffixes = nodeSuffixes("node.lan");

describe("host names", () => {
  test("the main interface under the app's label, every interface under its own name; a namespaced id's dot is --", () => {
    assert.equal(
      interfaceHost("hello-web", apps[0]?.manifest as Manifest, "ui", "node.lan"),
      "hello-web.node.lan",
    );
    assert.equal(
      interfaceHost("hello-web", apps[0]?.manifest as Manifest, "admin", "node.lan"),
      "admin.hello-web.node.lan",
    );
    assert.equal(
      interfaceHost("alice.relay", apps[1]?.manifest as Manifest, "web", "node.lan"),
      "alice--relay.node.lan",
    );
    const route = (host: string) => {
      const target = routeHost(host, suffixes, table);
      return target.kind === "app" ? `${target.route.appId}/${target.route.interface}` : target.kind;
    };
    assert.equal(route("hello-web.node.lan"), "hello-web/ui");
    assert.equal(route("ui.hello-web.node.lan"), "hello-web/ui");
    assert.equal(route("admin.hello-web.node.lan"), "hello-web/admin");
    assert.equal(route("alice--relay.node.lan"), "alice.relay/web");
    assert.equal(route("hello-web.localhost"), "hello-web/ui", "localhost always works on the node itself");
    assert.equal(route("node.lan"), "node");
    assert.equal(route("localhost"), "node");
    assert.equal(route("nobody.node.lan"), "no-app");
    assert.equal(route("x.admin.hello-web.node.lan"), "no-app");
    assert.equal(route("hello-web.node.lan.evil.example"), "other");
    assert.equal(route("evilnode.lan"), "other");
    assert.equal(route("127.0.0.1"), "other");
  });

  test("Host headers: lower case, trailing dot dropped, ports checked; userinfo, paths and junk refused", () => {
    assert.deepEqual(parseHost("Hello-Web.Localhost.:7780"), { hostname: "hello-web.localhost", port: 7780 });
    assert.deepEqual(parseHost("[::1]:7780"), { hostname: "[::1]", port: 7780 });
    assert.deepEqual(parseHost("localhost"), { hostname: "localhost", port: undefined });
    for (const bad of [
      undefined,
      "",
      "a@hello-web.localhost",
      "hello-web.localhost/x",
      "hello-web.localhost:0",
      "hello-web.localhost:99999",
      "hello web.localhost",
      "-x.localhost",
      "x..localhost",
      "hello_web.localhost",
      "héllo.localhost",
    ])
      assert.equal(parseHost(bad), undefined, String(bad));
  });

  test("every id maps to a label no other id maps to (namespaced and plain ids side by side)", () => {
    const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/).filter((l) => !l.includes("--"));
    const id = fc.oneof(
      label,
      fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
    );
    fc.assert(
      fc.property(id, id, (a, b) => {
        if (a === b) return;
        const hosts = routeTable([
          { id: a, manifest: manifestOf(a, "  ui: { container: web, port: 8080 }"), unapproved: new Set() },
          { id: b, manifest: manifestOf(b, "  ui: { container: web, port: 8080 }"), unapproved: new Set() },
        ]);
        const target = routeHost(
          interfaceHost(a, manifestOf(a, "  ui: { container: web, port: 8080 }"), "ui", "localhost"),
          nodeSuffixes("localhost"),
          hosts,
        );
        assert.equal(target.kind === "app" && target.route.appId, a);
      }),
      { numRuns: 200 },
    );
  });
});

describe("return addresses", () => {
  const login = { scheme: "https" as const, port: 7780, hostname: "node.lan" };
  test("an installed app's address on the login's scheme and port is kept, rebuilt from its parts", () => {
    const target = returnTarget("https://Hello-Web.node.lan:7780/a/b?c=1#frag", login, suffixes, table);
    assert.ok(target.ok);
    assert.equal(target.host, "hello-web.node.lan:7780");
    assert.equal(target.origin, "https://hello-web.node.lan:7780");
    assert.equal(target.path, "/a/b?c=1");
    const onDefault = returnTarget(
      "https://hello-web.node.lan/",
      { scheme: "https", port: 443, hostname: "node.lan" },
      suffixes,
      table,
    );
    assert.ok(onDefault.ok);
    assert.equal(onDefault.origin, "https://hello-web.node.lan");
  });

  test("everything else is refused", () => {
    for (const raw of [
      undefined,
      "",
      "/relative",
      "//hello-web.node.lan:7780/",
      "https://evil.example/",
      "https://hello-web.node.lan.evil.example:7780/",
      "https://user:pw@hello-web.node.lan:7780/",
      "https://hello-web.node.lan:7780@evil.example/",
      "http://hello-web.node.lan:7780/",
      "https://hello-web.node.lan:7781/",
      "https://hello-web.node.lan/",
      "https://node.lan:7780/",
      "https://nobody.node.lan:7780/",
      "https://127.0.0.1:7780/",
      "javascript:alert(1)//hello-web.node.lan:7780",
      `https://hello-web.node.lan:7780/${"x".repeat(5000)}`,
    ])
      assert.equal(returnTarget(raw, login, suffixes, table).ok, false, String(raw));
  });

  test("an interface port is a return address on the login's own host name or address only", () => {
    const hello = routeHost("hello-web.node.lan", suffixes, table);
    assert.ok(hello.kind === "app");
    const ports = new Map([[7801, hello.route]]);
    const byAddress = { scheme: "https" as const, port: 7780, hostname: "192.168.1.20" };
    const target = returnTarget("https://192.168.1.20:7801/a?b=1", byAddress, suffixes, table, ports);
    assert.ok(target.ok);
    assert.equal(target.host, "192.168.1.20:7801", "the ticket is bound to the port");
    assert.equal(target.origin, "https://192.168.1.20:7801");
    assert.equal(target.path, "/a?b=1");
    assert.equal(target.target.route.appId, "hello-web");
    for (const raw of [
      "https://evil.example:7801/",
      "https://192.168.1.21:7801/",
      "http://192.168.1.20:7801/",
      "https://192.168.1.20:7802/",
      "https://user@192.168.1.20:7801/",
    ])
      assert.equal(returnTarget(raw, byAddress, suffixes, table, ports).ok, false, raw);
    assert.equal(
      returnTarget("https://192.168.1.20:7801/", byAddress, suffixes, table).ok,
      false,
      "not without the mode",
    );
  });
});

describe("public paths", () => {
  test("canonical paths only: no dot segments, no empty segments, no backslash, no encoded slash, backslash or dot", () => {
    for (const path of ["/", "/a", "/a/", "/a/b.c", "/.well-known/x", "/a%20b", "/~user/x"])
      assert.ok(isCanonicalPath(path), path);
    for (const path of [
      "",
      "a",
      "/a//b",
      "//a",
      "/./a",
      "/a/..",
      "/a/../b",
      "/a\\b",
      "/a%2fb",
      "/a%2Fb",
      "/%2e%2e/x",
      "/%2E/x",
      "/a%5cb",
      "/a%zz",
      "/a%2",
    ])
      assert.ok(!isCanonicalPath(path), path);
  });

  test("a path ending in / covers what is below it; any other only itself", () => {
    const declared = ["/.well-known/", "/webhook"];
    assert.ok(matchesPublicPath(declared, "/.well-known/acme"));
    assert.ok(matchesPublicPath(declared, "/.well-known/"));
    assert.ok(matchesPublicPath(declared, "/webhook"));
    assert.ok(!matchesPublicPath(declared, "/.well-known"));
    assert.ok(!matchesPublicPath(declared, "/webhook/x"));
    assert.ok(!matchesPublicPath(declared, "/webhooks"));
  });

  test("an opening counts only once approved", () => {
    const open = routeHost("alice--relay.node.lan", suffixes, table);
    const held = routeHost("held.node.lan", suffixes, table);
    assert.ok(open.kind === "app" && openWithoutLogin(open.route, "/x"));
    assert.ok(held.kind === "app" && !openWithoutLogin(held.route, "/x"));
  });

  test("no path that is not canonical is ever public, whatever is declared (property)", () => {
    const segment = fc.constantFrom("a", ".", "..", "", "%2e", "%2E%2e", "%2f", "b%2Fc", "\\", ".well-known");
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const path = `/${segments.join("/")}`;
        const route = routeHost(
          "hello-web.node.lan",
          suffixes,
          routeTable([
            {
              id: "hello-web",
              manifest: manifestOf(
                "hello-web",
                "  ui: { container: web, port: 8080, public_paths: [/.well-known/, /a] }",
              ),
              unapproved: new Set(),
            },
          ]),
        );
        assert.ok(route.kind === "app");
        if (!isCanonicalPath(path)) assert.ok(!openWithoutLogin(route.route, path), path);
      }),
      { numRuns: 500 },
    );
  });
});
