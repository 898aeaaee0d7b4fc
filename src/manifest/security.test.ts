import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, replaceLine, withLines } from "../../test/support/manifest-text.ts";
import { isCanonicalAbsolute, legacyDataPathProblem } from "./host-paths.ts";

/** A permission entry under `permissions:`, as a line. */
const permission = (name: string, body: string) => `  ${name}: { ${body}, reason: needed for the test }`;

describe("isCanonicalAbsolute", () => {
  test("accepts plain absolute paths", () => {
    for (const path of ["/", "/srv", "/srv/media", "/dev/ttyUSB0", "/a.b/c-d_e"])
      assert.ok(isCanonicalAbsolute(path), path);
  });
  test("refuses relative, dotted, doubled, trailing and NUL paths", () => {
    for (const path of [
      "",
      "srv",
      "./srv",
      "/srv/",
      "//srv",
      "/srv//media",
      "/srv/./media",
      "/srv/../etc",
      "/..",
      "/srv\0/x",
    ])
      assert.equal(isCanonicalAbsolute(path), false, JSON.stringify(path));
  });
});

describe("legacyDataPathProblem: legacy data is taken over only from the app's own directory (an app never copies out the node's or another app's data)", () => {
  const engineSockets = [
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/srv/podman.sock",
    "/srv/docker",
    "/mnt/Docker.sock",
    "/srv/app/control.sock",
    "/var/lib/archipelago/docker.sock",
  ];
  for (const path of engineSockets)
    test(`an engine socket: ${path}`, () => assert.match(legacyDataPathProblem(path) ?? "", /socket/));

  for (const path of [
    "//var/run/docker.sock",
    "/var/lib/archipelago/./app",
    "/var/lib/archipelago/app/../../../../etc",
    "/var/lib/archipelago/app/",
    "/srv/../etc",
  ])
    test(`a non-canonical spelling: ${path}`, () =>
      assert.match(legacyDataPathProblem(path) ?? "", /not a canonical/));

  // Anywhere but the allowed places: the whole class (homes, /var, /tmp, a data dir put elsewhere).
  for (const path of [
    "/",
    "/etc",
    "/root",
    "/home/alice",
    "/home/alice/Music",
    "/home/archipelago/.local/share/archipelago/state",
    "/var/lib/media",
    "/var/lib/containers/storage",
    "/var/lib/archipelago",
    "/tmp/x",
    "/data",
    "/srv",
    "/mnt",
  ])
    test(`not a directory of its own in an allowed place: ${path}`, () =>
      assert.match(legacyDataPathProblem(path) ?? "", /not a directory of its own|itself/));

  test("the earlier platform's secrets are nobody's app data, nor is a directory holding them", () => {
    assert.match(legacyDataPathProblem("/var/lib/archipelago/secrets") ?? "", /is .*secrets/);
    assert.match(legacyDataPathProblem("/var/lib/archipelago/secrets/app") ?? "", /inside .*secrets/);
  });

  test("the node's own directories, wherever the operator put them, are refused in every relation", () => {
    const node = [{ path: "/srv/archy", what: "the daemon's data directory" }];
    assert.match(legacyDataPathProblem("/srv/archy", node) ?? "", /is \/srv\/archy/);
    assert.match(legacyDataPathProblem("/srv/archy/state", node) ?? "", /inside \/srv\/archy/);
    const underLegacy = [{ path: "/var/lib/archipelago/new/state", what: "the daemon's state" }];
    assert.match(legacyDataPathProblem("/var/lib/archipelago/new", underLegacy) ?? "", /contains/);
  });

  test("the app's own legacy directory, and one of its own under /mnt, /media or /srv, may be taken over", () => {
    for (const path of [
      "/var/lib/archipelago/electrumx",
      "/var/lib/archipelago/legacy/media/pgdata",
      "/srv/media",
      "/mnt/disk1/old-app",
      "/media/usb/app",
    ])
      assert.equal(legacyDataPathProblem(path), undefined, path);
  });
});

describe("security.host-path", () => {
  test("a permission that grants a system directory", () => {
    expectIssue(withLines("permissions:", permission("etc", "kind: host-path, path: /etc")), {
      rule: "security.host-path",
      path: "permissions.etc.path",
      line: FIRST + 1,
      column: 33,
      message: "host path /etc can never be granted: it is /etc (the system's configuration)",
      fix: "/srv/media",
    });
  });

  test("a permission that grants /", () => {
    expectIssue(withLines("permissions:", permission("all", "kind: host-path, path: /")), {
      rule: "security.host-path",
      path: "permissions.all.path",
      line: FIRST + 1,
      column: 33,
      message: "can never be granted",
    });
  });

  // Each of these holds the daemon's data directory, its CLI token or other apps' secrets on some node.
  for (const path of [
    "/home",
    "/home/archipelago/.local/share/archipelago/state",
    "/var",
    "/var/lib",
    "/tmp",
    "/opt/app",
    "/data",
    "/srv",
  ])
    test(`no host-path permission reaches the daemon's keys or other apps: ${path} is refused`, () => {
      expectIssue(withLines("permissions:", permission("p", `kind: host-path, path: ${path}`)), {
        rule: "security.host-path",
        path: "permissions.p.path",
        line: FIRST + 1,
        column: 31,
        message: `host path ${path} can never be granted`,
        fix: "under /mnt, /media or /srv",
      });
    });

  test("a host volume under a refused permission is refused too", () => {
    expectIssue(
      withLines(
        "    volumes: [{ host_path: /home/archipelago, permission: home, path: /h }]",
        "permissions:",
        permission("home", "kind: host-path, path: /home"),
      ),
      {
        rule: "security.host-path",
        path: "containers.web.volumes[0].host_path",
        line: FIRST,
        column: 28,
        message: "host path /home/archipelago can never be mounted: it is inside /home",
      },
    );
  });

  const sockets = [
    "/var/run/docker.sock",
    "/run/podman/podman.sock",
    "/run/user/1000/podman/podman.sock",
    "//var/run/docker.sock",
    "/var/run/./docker.sock",
    "/srv/sockets/podman.sock",
  ];
  for (const socket of sockets) {
    test(`mounting ${socket} is refused, with or without a permission`, () => {
      const line = `    volumes: [{ host_path: ${socket}, permission: sock, path: /var/run/docker.sock }]`;
      expectIssue(withLines(line, "permissions:", permission("sock", "kind: host-path, path: /srv")), {
        rule: "security.host-path",
        path: "containers.web.volumes[0].host_path",
        line: FIRST,
        column: 28,
        message: `host path ${socket} can never be mounted`,
        fix: "app volume",
      });
    });
  }

  test("a host path without a permission", () => {
    expectIssue(withLines("    volumes: [{ host_path: /srv/media, path: /media }]"), {
      rule: "security.host-path",
      path: "containers.web.volumes[0].host_path",
      line: FIRST,
      column: 28,
      message: "outside the app's data directory and has no permission",
      fix: "add `permission: <name>`",
    });
  });

  test("a host path outside the directory its permission grants (no prefix tricks)", () => {
    expectIssue(
      withLines(
        "    volumes: [{ host_path: /srv/media-evil, permission: media, path: /media }]",
        "permissions:",
        permission("media", "kind: host-path, path: /srv/media"),
      ),
      {
        rule: "security.host-path",
        path: "containers.web.volumes[0].host_path",
        line: FIRST,
        column: 28,
        message: "is not inside /srv/media",
        fix: "mount /srv/media or a directory under it",
      },
    );
  });

  test("adopting a system directory as legacy data", () => {
    expectIssue(
      withLines("    volumes: [{ name: data, path: /data }]", "adoption:", "  data_paths:", "    data: /etc"),
      {
        rule: "security.host-path",
        path: "adoption.data_paths.data",
        line: FIRST + 3,
        column: 11,
        message:
          "legacy data path /etc cannot be taken over: it is not a directory of its own under /var/lib/archipelago",
        fix: "take over only the app's own legacy data directory",
      },
    );
  });

  test("passing: a granted data directory and a subdirectory of it", () => {
    expectValid(
      withLines(
        "    volumes:",
        "      - { host_path: /srv/media, permission: media, path: /media }",
        "      - { host_path: /srv/media/music, permission: media, path: /music, read_only: true }",
        "permissions:",
        permission("media", "kind: host-path, path: /srv/media"),
      ),
    );
  });
});

describe("security.device", () => {
  for (const device of ["/dev/mem", "/dev/kmem", "/dev/port", "/dev/kvm", "/dev/fuse", "/dev/net/tun"]) {
    test(`${device} can never be granted`, () => {
      expectIssue(withLines("permissions:", permission("dev", `kind: device, path: ${device}`)), {
        rule: "security.device",
        path: "permissions.dev.path",
        line: FIRST + 1,
        column: 30,
        message: `device ${device} can never be granted`,
        fix: "remove this permission",
      });
    });
  }

  test("a device outside /dev, or a path that only looks like one", () => {
    for (const device of ["/etc/passwd", "/dev/../etc/shadow", "/dev", "/dev/"]) {
      expectIssue(withLines("permissions:", permission("dev", `kind: device, path: ${device}`)), {
        rule: "security.device",
        path: "permissions.dev.path",
        line: FIRST + 1,
        column: 30,
        message: "is not a canonical path under /dev/",
        fix: "/dev/ttyUSB0",
      });
    }
  });

  test("passing: a serial adapter", () => {
    expectValid(
      withLines(
        "    devices: [{ permission: serial }]",
        "permissions:",
        permission("serial", "kind: device, path: /dev/ttyUSB0"),
      ),
    );
  });
});

describe("security.capability", () => {
  test("a permission for a misspelt capability", () => {
    expectIssue(withLines("permissions:", permission("net", "kind: capability, capability: NET_ADMN")), {
      rule: "security.capability",
      path: "permissions.net.capability",
      line: FIRST + 1,
      column: 40,
      message: 'unknown capability "NET_ADMN"',
      fix: "did you mean NET_ADMIN?",
    });
  });

  test("a permission for a capability that needs none", () => {
    expectIssue(withLines("permissions:", permission("chown", "kind: capability, capability: CHOWN")), {
      rule: "security.capability",
      path: "permissions.chown.capability",
      line: FIRST + 1,
      column: 42,
      message: "CHOWN needs no permission",
      fix: "list CHOWN under the container's capabilities",
    });
  });

  test("a container capability written with the CAP_ prefix", () => {
    expectIssue(withLines("    capabilities: [CAP_SYS_ADMIN]"), {
      rule: "security.capability",
      path: "containers.web.capabilities[0]",
      line: FIRST,
      column: 20,
      message: 'unknown capability "CAP_SYS_ADMIN"',
      fix: "did you mean SYS_ADMIN?",
    });
  });

  test("a container capability that is no capability at all", () => {
    expectIssue(withLines("    capabilities: [ALL]"), {
      rule: "security.capability",
      path: "containers.web.capabilities[0]",
      line: FIRST,
      column: 20,
      fix: "without the CAP_ prefix",
    });
  });

  for (const cap of ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_RAW"]) {
    test(`${cap} without a permission`, () => {
      expectIssue(withLines(`    capabilities: [CHOWN, ${cap}]`), {
        rule: "security.capability",
        path: "containers.web.capabilities[1]",
        line: FIRST,
        column: 27,
        message: `${cap} is an elevated capability and needs a named permission`,
        fix: `capability: ${cap}`,
      });
    });
  }

  test("a permission for another elevated capability does not cover SYS_ADMIN", () => {
    expectIssue(
      withLines(
        "    capabilities: [SYS_ADMIN]",
        "permissions:",
        permission("net", "kind: capability, capability: NET_ADMIN"),
      ),
      {
        rule: "security.capability",
        path: "containers.web.capabilities[0]",
        line: FIRST,
        column: 20,
      },
    );
  });

  test("passing: safe capabilities freely, elevated ones with a permission", () => {
    expectValid(withLines("    capabilities: [CHOWN, SETUID, NET_BIND_SERVICE]"));
    expectValid(
      withLines(
        "    capabilities: [SYS_ADMIN]",
        "permissions:",
        permission("admin", "kind: capability, capability: SYS_ADMIN"),
      ),
    );
  });
});

describe("security.volume", () => {
  test("a volume with both name and host_path", () => {
    expectIssue(withLines("    volumes: [{ name: data, host_path: /srv/x, path: /data }]"), {
      rule: "security.volume",
      path: "containers.web.volumes[0]",
      line: FIRST,
      column: 15,
      message: "exactly one of `name`",
      fix: "`name: data`",
    });
  });

  test("a volume with neither", () => {
    expectIssue(withLines("    volumes: [{ path: /data }]"), {
      rule: "security.volume",
      path: "containers.web.volumes[0]",
      line: FIRST,
      column: 15,
    });
  });

  test("a permission on an app volume", () => {
    expectIssue(withLines("    volumes: [{ name: data, permission: media, path: /data }]"), {
      rule: "security.volume",
      path: "containers.web.volumes[0].permission",
      line: FIRST,
      column: 41,
      message: "applies only to a `host_path` volume",
      fix: "remove `permission`",
    });
  });

  test("passing: an app volume", () => {
    expectValid(withLines("    volumes: [{ name: data, path: /data, read_only: true }]"));
  });
});

describe("security.low-port", () => {
  test("publishing port 80 without a permission", () => {
    expectIssue(withLines("    ports: [{ container: 80, host: 80 }]"), {
      rule: "security.low-port",
      path: "containers.web.ports[0].host",
      line: FIRST,
      column: 36,
      message: "host port 80 is below 1024",
      fix: "kind: low-port, port: 80",
    });
  });

  test("a permission for another low port does not cover it", () => {
    expectIssue(
      withLines(
        "    ports: [{ container: 80, host: 80 }]",
        "permissions:",
        permission("https", "kind: low-port, port: 443"),
      ),
      {
        rule: "security.low-port",
        path: "containers.web.ports[0].host",
        line: FIRST,
        column: 36,
      },
    );
  });

  test("passing: a permission for the port, a high port, or an unpublished low port", () => {
    expectValid(
      withLines(
        "    ports: [{ container: 80, host: 80 }]",
        "permissions:",
        permission("http", "kind: low-port, port: 80"),
      ),
    );
    expectValid(withLines("    ports: [{ container: 80, host: 1024 }, { container: 81 }]"));
  });
});

describe("security.path", () => {
  test("a tmpfs that is not canonical, or is /", () => {
    for (const [path, message] of [
      ["/tmp/../etc", "is not a canonical absolute path"],
      ["/tmp/", "is not a canonical absolute path"],
      ["/", "is the container's root"],
    ]) {
      expectIssue(withLines(`    tmpfs: [${path}]`), {
        rule: "security.path",
        path: "containers.web.tmpfs[0]",
        line: FIRST,
        column: 13,
        message: `tmpfs path ${path} ${message}`,
        fix: "such as /tmp",
      });
    }
  });

  test("any mount at / or where the runtime mounts its own (/proc, /sys, /dev and below)", () => {
    for (const path of ["/", "/proc", "/proc/sys", "/sys", "/sys/fs/cgroup", "/dev", "/dev/shm"]) {
      expectIssue(withLines(`    volumes: [{ name: data, path: ${path} }]`), {
        rule: "security.path",
        path: "containers.web.volumes[0].path",
        line: FIRST,
        column: 35,
        message: `volume path ${path} `,
        fix: "such as /data",
      });
      if (path !== "/dev/shm")
        expectIssue(withLines(`    tmpfs: [${path}]`), {
          rule: "security.path",
          path: "containers.web.tmpfs[0]",
          line: FIRST,
          column: 13,
        });
    }
    // A larger shared-memory area of its own is a common need (databases): tmpfs only.
    expectValid(withLines("    tmpfs: [/dev/shm]"));
    expectIssue(withLines("    volumes: [{ name: data, path: /proc/x }]"), {
      rule: "security.path",
      path: "containers.web.volumes[0].path",
      line: FIRST,
      column: 35,
      message: "volume path /proc/x is inside /proc, which the runtime mounts for the container itself",
    });
    expectIssue(withLines("    volumes: [{ name: data, path: /data/../etc }]"), {
      rule: "security.path",
      path: "containers.web.volumes[0].path",
      line: FIRST,
      column: 35,
      message: "is not a canonical absolute path",
    });
    expectIssue(withLines("    secrets: [{ secret: key, target: /sys/key }]", "secrets: { key: {} }"), {
      rule: "security.path",
      path: "containers.web.secrets[0].target",
      line: FIRST,
      column: 38,
      message: "secret target /sys/key is inside /sys",
      fix: "such as /run/secrets/key",
    });
  });

  test("an adopted data path under the platform's directory that climbs out of it", () => {
    expectIssue(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        "adoption:",
        "  data_paths:",
        "    data: /var/lib/archipelago/legacy/../../../../etc",
      ),
      {
        rule: "security.path",
        path: "adoption.data_paths.data",
        line: FIRST + 3,
        column: 11,
        message: "is not a canonical absolute path",
        fix: "take over only the app's own legacy data directory",
      },
    );
  });

  const copy = (from: string, to = "/app/file") =>
    withLines(
      "hooks:",
      "  post_install:",
      `    - copy_from_host: { from: ${from}, container: web, to: ${to} }`,
    );

  test("a copy source that climbs out of the app directory", () => {
    for (const from of ["../../etc/shadow", "/etc/shadow", "files/../../secret", "files//x"]) {
      expectIssue(copy(from), {
        rule: "security.path",
        path: "hooks.post_install[0].copy_from_host.from",
        line: FIRST + 2,
        column: 31,
        message: "must be a relative path without `..`",
        fix: "files/config.json",
      });
    }
  });

  test("a copy target that is / or not canonical", () => {
    expectIssue(copy("files/a", "/"), {
      rule: "security.path",
      path: "hooks.post_install[0].copy_from_host.to",
      line: FIRST + 2,
      column: 60,
      message: "other than /",
    });
    expectIssue(copy("files/a", "/app/../etc/passwd"), {
      rule: "security.path",
      path: "hooks.post_install[0].copy_from_host.to",
      line: FIRST + 2,
      column: 60,
    });
  });

  test("an icon outside the app directory", () => {
    for (const icon of [
      "../../etc/passwd",
      "/etc/passwd",
      "assets//icon.svg",
      "http://example.org/icon.svg",
      "file:///etc/passwd",
    ]) {
      expectIssue(withLines(`icon: ${icon}`), {
        rule: "security.path",
        path: "icon",
        line: FIRST,
        column: 7,
        message: "must be a relative file in the app directory or an https URL",
        fix: "icon.svg",
      });
    }
  });

  test("passing: relative files and https URLs; mounts beside the runtime's paths", () => {
    expectValid(
      withLines("    tmpfs: [/tmp, /run/app, /device, /system, /process]", "icon: assets/icon.svg"),
    );
    expectValid(
      withLines(
        "    volumes: [{ name: data, path: /data }, { name: dev, path: /srv/dev }]",
        "    secrets: [{ secret: key, target: /run/secrets/key }]",
        "secrets: { key: {} }",
      ),
    );
    expectValid(withLines("icon: https://example.org/icon.svg"));
    expectValid(copy("files/config.json", "/etc/app/config.json"));
  });
});

describe("ref.permission", () => {
  test("a volume naming a misspelt permission", () => {
    expectIssue(
      withLines(
        "    volumes: [{ host_path: /srv/media, permission: mdia, path: /m }]",
        "permissions:",
        permission("media", "kind: host-path, path: /srv/media"),
      ),
      {
        rule: "ref.permission",
        path: "containers.web.volumes[0].permission",
        line: FIRST,
        column: 52,
        message: 'no host-path permission named "mdia"',
        fix: "did you mean media?",
      },
    );
  });

  test("a volume naming a permission of another kind", () => {
    expectIssue(
      withLines(
        "    volumes: [{ host_path: /srv/media, permission: gpu, path: /m }]",
        "permissions:",
        permission("gpu", "kind: device, path: /dev/dri/renderD128"),
      ),
      {
        rule: "ref.permission",
        path: "containers.web.volumes[0].permission",
        line: FIRST,
        column: 52,
        message: 'no host-path permission named "gpu"',
      },
    );
  });

  test("a device without its permission", () => {
    expectIssue(withLines("    devices: [{ permission: gpu }]"), {
      rule: "ref.permission",
      path: "containers.web.devices[0].permission",
      line: FIRST,
      column: 29,
      message: 'no device permission named "gpu"',
      fix: "kind: device",
    });
  });

  test("a copy root that is not a host-path permission", () => {
    expectIssue(
      withLines(
        "hooks:",
        "  post_install:",
        "    - copy_from_host: { root: nope, from: a, container: web, to: /a }",
      ),
      {
        rule: "ref.permission",
        path: "hooks.post_install[0].copy_from_host.root",
        line: FIRST + 2,
        column: 31,
        message: 'no host-path permission named "nope"',
        fix: "omit `root`",
      },
    );
  });

  test("passing: a copy from a granted root", () => {
    expectValid(
      withLines(
        "hooks:",
        "  post_install:",
        "    - copy_from_host: { root: media, from: a, container: web, to: /a }",
        "permissions:",
        permission("media", "kind: host-path, path: /srv/media"),
      ),
    );
  });
});

describe("security.text", () => {
  test("a right-to-left override in the name", () => {
    expectIssue(replaceLine(4, 'name: "Wallet\\u202Egnp.exe"'), {
      rule: "security.text",
      path: "name",
      line: 4,
      column: 7,
      message: "U+202E",
      fix: "remove the character",
    });
  });

  test("a NUL byte in the icon", () => {
    expectIssue(withLines('icon: "icon.svg\\0.sh"'), {
      rule: "security.text",
      path: "icon",
      line: FIRST,
      column: 7,
      message: "U+0000",
    });
  });

  test("an escape character in a command argument", () => {
    expectIssue(withLines('    command: ["echo", "\\e[2J"]'), {
      rule: "security.text",
      path: "containers.web.command[1]",
      line: FIRST,
      column: 23,
      message: "U+001B",
    });
  });

  test("a bidirectional isolate in an environment value", () => {
    expectIssue(withLines("    environment:", '      GREETING: "hi\\u2067there"'), {
      rule: "security.text",
      path: "containers.web.environment.GREETING",
      line: FIRST + 1,
      column: 17,
    });
  });

  test("a line break in a path could inject a line into a unit file", () => {
    expectIssue(withLines('    volumes: [{ name: data, path: "/data\\nPodmanArgs=--privileged" }]'), {
      rule: "security.text",
      path: "containers.web.volumes[0].path",
      line: FIRST,
      column: 35,
      message: "line break or tab (U+000A)",
      fix: "on one line",
    });
    expectIssue(
      withLines(
        '    volumes: [{ host_path: "/srv/media\\nVolume=/:/host", permission: media, path: /m }]',
        "permissions:",
        permission("media", "kind: host-path, path: /srv"),
      ),
      { rule: "security.text", path: "containers.web.volumes[0].host_path", line: FIRST, column: 28 },
    );
  });

  test("a tab in a name or a credential label", () => {
    expectIssue(replaceLine(4, 'name: "Hello\\tWorld"'), {
      rule: "security.text",
      path: "name",
      line: 4,
      column: 7,
      message: "U+0009",
    });
    expectIssue(withLines("credentials:", '  - { label: "Admin\\nRoot", secret: s }', "secrets: { s: {} }"), {
      rule: "security.text",
      path: "credentials[0].label",
      line: FIRST + 1,
      column: 14,
    });
  });

  test("passing: line breaks where text may span lines (description, environment, commands, export values)", () => {
    expectValid(
      withLines(
        '    environment: { CERT: "-----BEGIN-----\\nabc\\n-----END-----" }',
        '    command: ["sh", "-c", "set -e\\n\\tserve"]',
        "exports:",
        '  banner: { value: "line one\\nline two" }',
        "hooks:",
        "  post_install:",
        '    - exec: { container: web, command: ["sh", "-c", "a\\nb"] }',
      ),
    );
  });

  test("passing: tabs, line breaks and non-Latin letters", () => {
    expectValid(replaceLine(5, 'description: "Ein Dienst für\\tAlle.\\nZweite Zeile: 日本語, العربية"'));
  });
});

describe("security.url", () => {
  test("a link that is not a web page", () => {
    expectIssue(withLines("links:", '  homepage: "javascript:alert(document.cookie)"'), {
      rule: "security.url",
      path: "links.homepage",
      line: FIRST + 1,
      column: 13,
      message: "is not an http or https URL",
      fix: "https://example.org",
    });
    expectIssue(withLines("links:", "  docs: file:///etc/passwd"), {
      rule: "security.url",
      path: "links.docs",
      line: FIRST + 1,
      column: 9,
    });
  });

  test("passing: http and https links", () => {
    expectValid(
      withLines("links:", "  homepage: https://example.org", "  source: http://git.example.org/app"),
    );
  });
});
