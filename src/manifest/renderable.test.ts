/**
 * What every backend can carry (renderable.ts): values no escaping can carry into a unit file, a
 * Podman argument or a Kubernetes object are refused at their line, and legitimate ones are not.
 * The cases of the fuzzing report are here by name.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectIssue, expectValid, FIRST, issuesOf, withLines } from "../../test/support/manifest-text.ts";
import { parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "./parse.ts";
import { healthCommandForm } from "./renderable.ts";

const SECRET = ["secrets:", "  s: {}"];

describe("paths carry no separator of Podman's options and nothing systemd splits or unescapes", () => {
  test("a tmpfs path with ':' would inject mount options (`tmpfs: [/t:exec]`)", () => {
    expectIssue(withLines("    tmpfs: [/t:exec]"), {
      rule: "security.path",
      path: "containers.web.tmpfs[0]",
      line: FIRST,
      column: 13,
      message:
        "tmpfs path \"/t:exec\" holds ':', which Podman reads as the start of the mount's or device's options",
      fix: "use only letters, digits and . _ - + @ ~ between the slashes, such as /tmp",
    });
  });

  test("a secret target with a space would become two --secret arguments (`target: /run/secrets/a b`)", () => {
    expectIssue(withLines("    secrets: [{ secret: s, target: /run/secrets/a b }]", ...SECRET), {
      rule: "security.path",
      path: "containers.web.secrets[0].target",
      line: FIRST,
      column: 36,
      message: /secret target "\/run\/secrets\/a b" holds a space, where Quadlet and systemd split values/,
      fix: "such as /run/secrets/s",
    });
  });

  test("a secret target with ',' would inject --secret options", () => {
    expectIssue(withLines("    secrets: [{ secret: s, target: '/run/s,uid=0' }]", ...SECRET), {
      rule: "security.path",
      path: "containers.web.secrets[0].target",
      line: FIRST,
      column: 36,
      message: /holds ',', which Podman reads as the start of the secret's or mount's next option/,
    });
  });

  test("a device path with ':' would inject device permissions (`path: /dev/x:rwm`)", () => {
    const text = withLines(
      "    devices: [{ permission: serial, path: /dev/x:rwm }]",
      "permissions:",
      "  serial: { kind: device, path: '/dev/ttyUSB0:rwm', reason: a serial port }",
    );
    expectIssue(text, {
      rule: "security.device",
      path: "containers.web.devices[0].path",
      line: FIRST,
      column: 43,
      message: "device path \"/dev/x:rwm\" holds ':'",
    });
    expectIssue(text, {
      rule: "security.device",
      path: "permissions.serial.path",
      line: FIRST + 2,
      column: 33,
      message: "device \"/dev/ttyUSB0:rwm\" holds ':'",
      fix: "such as /dev/ttyUSB0",
    });
  });

  test("a working directory ending in a backslash (`working_dir: /w\\`)", () => {
    expectIssue(withLines("    working_dir: /w\\"), {
      rule: "security.path",
      path: "containers.web.working_dir",
      line: FIRST,
      column: 18,
      message:
        "working directory \"/w\\\\\" holds '\\', which Podman's options or systemd units give a meaning of their own",
      fix: "such as /app",
    });
  });

  test("a host path with a space: Quadlet would split the unit's RequiresMountsFor=", () => {
    const text = withLines(
      "    volumes: [{ host_path: /srv/My Media, permission: media, path: /media }]",
      "    data_uid: 1000",
      "permissions:",
      "  media: { kind: host-path, path: /srv/My Media, reason: the media library }",
    );
    expectIssue(text, {
      rule: "security.host-path",
      path: "containers.web.volumes[0].host_path",
      line: FIRST,
      column: 28,
      message: 'host path "/srv/My Media" holds a space',
      fix: "such as /srv/media",
    });
    expectIssue(text, {
      rule: "security.host-path",
      path: "permissions.media.path",
      line: FIRST + 3,
      column: 35,
    });
  });

  test("a volume path with a trailing blank, a quote, '%' or '$'", () => {
    for (const path of ['"/data "', `'/da"ta'`, "/data%h", "/data$HOME", '"/data\\u00a0"']) {
      const issues = issuesOf(withLines(`    volumes: [{ name: data, path: ${path} }]`));
      assert.ok(
        issues.some((i) => i.rule === "security.path" && i.path === "containers.web.volumes[0].path"),
        path,
      );
    }
  });

  test("a device at a path where something else is mounted, or where another device is", () => {
    const permissions = [
      "permissions:",
      "  serial: { kind: device, path: /dev/ttyUSB0, reason: a serial port }",
      "  other: { kind: device, path: /dev/ttyACM0, reason: another port }",
    ];
    expectIssue(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        "    devices: [{ permission: serial, path: /data }]",
        ...permissions,
      ),
      {
        rule: "clash.mount",
        path: "containers.web.devices[0].path",
        line: FIRST + 1,
        column: 43,
        message: "the device would appear at /data, where containers.web.volumes[0].path is mounted too",
        fix: "give the device a path of its own",
      },
    );
    expectIssue(
      withLines(
        "    devices: [{ permission: serial, path: /dev/ttyACM0 }, { permission: other }]",
        ...permissions,
      ),
      {
        rule: "clash.mount",
        path: "containers.web.devices[1].permission",
        line: FIRST,
        column: 73,
        message: "at /dev/ttyACM0, where containers.web.devices[0] is mounted too",
      },
    );
  });

  test("letters of any script, digits and . _ - + @ ~ are paths", () => {
    expectValid(
      withLines(
        "    working_dir: /srv/données/Ünïcode-app_1.2+beta@x~y",
        "    volumes: [{ name: data, path: /var/lib/データ }]",
        "    tmpfs: [/run/app.d]",
        "    secrets: [{ secret: s, target: /run/secrets/s }]",
        ...SECRET,
      ),
    );
  });
});

describe("ids, numbers and lengths Podman and Kubernetes take", () => {
  test('a uid beyond the rootless user namespace (`user: "4294967295"`)', () => {
    for (const user of ["4294967295", "65536", "1000:70000"])
      expectIssue(withLines(`    user: "${user}"`), {
        rule: "limits.user",
        path: "containers.web.user",
        line: FIRST,
        column: 11,
        message: `${user} is out of range: a rootless container's user namespace has the ids 0 to 65535`,
        fix: "use a uid (and gid) between 0 and 65535",
      });
    expectValid(withLines('    user: "65535:65535"'));
  });

  test("a memory limit above 1 TiB", () => {
    expectIssue(withLines("    memory: 99999999999g"), {
      rule: "limits.memory",
      path: "containers.web.memory",
      line: FIRST,
      column: 13,
      message: "above 1024g",
      fix: "use at most 1024g",
    });
    expectValid(withLines("    memory: 1024g"));
  });

  test("a health check duration longer than a day", () => {
    expectIssue(
      withLines("    health: { type: exec, command: [/bin/true, x], interval: 99999999h, timeout: 5s }"),
      {
        rule: "health.timing",
        path: "containers.web.health.interval",
        line: FIRST,
        column: 62,
        message: "an interval longer than a day",
        fix: "use at most 24h",
      },
    );
  });

  test("an argument or environment value longer than Linux passes to a program", () => {
    const long = "x".repeat(33 * 1024);
    expectIssue(withLines(`    environment: { BIG: ${long} }`), {
      rule: "limits.argument",
      path: "containers.web.environment.BIG",
      line: FIRST,
      column: 25,
      message: "the value is 33 KiB",
      fix: "keep it under 32 KiB",
    });
    expectIssue(withLines(`    command: [echo, ${long}]`), {
      rule: "limits.argument",
      path: "containers.web.command[1]",
      line: FIRST,
      column: 21,
    });
    const words = Array.from({ length: 3 }, () => "y".repeat(30 * 1024)).join(", ");
    expectIssue(withLines(`    entrypoint: [${words}]`), {
      rule: "limits.argument",
      path: "containers.web.entrypoint",
      line: FIRST,
      column: 17,
      message: "the command as a whole is 91 KiB",
    });
  });

  test("a secret whose Podman secret name would be longer than Podman takes (64 characters)", () => {
    const id = `publisher-${"x".repeat(20)}.app-${"y".repeat(20)}`;
    const text = withLines("secrets:", `  database-password-for-the-app: {}`).replace(
      "id: hello",
      `id: ${id}`,
    );
    expectIssue(text, {
      rule: "limits.name",
      path: "secrets.database-password-for-the-app",
      line: FIRST + 1,
      column: 3,
      // Whatever joins the id and the secret's name (the naming scheme's separator).
      message: new RegExp(
        `its Podman secret would be named archy-${id}.database-password-for-the-app, 91 characters`,
      ),
      fix: "shorten the secret's name to at most 2 characters",
    });
    expectValid(withLines("secrets:", "  pw: {}").replace("id: hello", `id: ${id}`));
  });

  test("an empty program", () => {
    expectIssue(withLines('    command: ["", x]'), {
      rule: "schema.value",
      path: "containers.web.command[0]",
      line: FIRST,
      column: 15,
      message: "the program to run is empty",
    });
  });
});

describe("health commands reach Podman's --health-cmd whole", () => {
  test("a list of two words or more, not starting with a keyword, goes as a JSON list; others as words", () => {
    assert.equal(healthCommandForm(["pg_isready", "-U", "a b"]), "list");
    for (const command of [["/healthcheck"], ["CMD", "x"], ["cmd-shell", "x"], ["None", "x"]])
      assert.equal(healthCommandForm(command), "words", command.join(" "));
  });

  test("one word with a space would be read as a shell command line", () => {
    expectIssue(withLines('    health: { type: exec, command: ["pg_isready -U app"] }'), {
      rule: "health.command",
      path: "containers.web.health.command[0]",
      line: FIRST,
      column: 37,
      message:
        'a health command of one word is passed to Podman as words, and "pg_isready -U app" would not arrive as one',
      fix: "[pg_isready, -U, app]",
    });
  });

  test("after a keyword, a word with a space or an empty word would be lost", () => {
    for (const [command, index] of [
      ['[CMD, "a b"]', 1],
      ['[NONE, ""]', 1],
    ] as const)
      expectIssue(withLines(`    health: { type: exec, command: ${command} }`), {
        rule: "health.command",
        path: `containers.web.health.command[${index}]`,
        line: FIRST,
        column: command === '[CMD, "a b"]' ? 42 : 43,
        fix: "run it through a shell",
      });
  });

  test("spaces are fine in a list Podman takes as it is, and a one-word command without blanks", () => {
    expectValid(withLines('    health: { type: exec, command: [/bin/sh, -c, "pg_isready -U app"] }'));
    expectValid(withLines("    health: { type: exec, command: [/healthcheck] }"));
  });
});

describe("an installed app keeps running across the upgrade that brought these rules", () => {
  test("its stored manifest still loads when it breaks only rules its containers ran with", () => {
    const text = withLines(
      `    environment: { BIG: ${"x".repeat(40 * 1024)} }`,
      '    health: { type: exec, command: ["pg_isready -U app"] }',
      "    tmpfs: [/cache:exec]",
    );
    assert.ok(!parseManifest(text, "stored.yml").ok, "installs and updates refuse it");
    assert.ok(parseManifest(text, "stored.yml", { tolerate: STORED_MANIFEST_TOLERATED_RULES }).ok);
  });

  test("but not one that breaks rules whose values Podman refused or misread (a uid, a device path)", () => {
    const text = withLines(
      '    user: "4294967295"',
      "    devices: [{ permission: serial, path: /dev/x:rwm }]",
      "permissions:",
      "  serial: { kind: device, path: /dev/ttyUSB0, reason: a serial port }",
    );
    const stored = parseManifest(text, "stored.yml", { tolerate: STORED_MANIFEST_TOLERATED_RULES });
    assert.deepEqual(stored.ok ? [] : stored.issues.map((i) => i.rule).sort(), [
      "limits.user",
      "security.device",
    ]);
  });
});

describe("values the renderers escape stay valid", () => {
  test("a lone ';', an empty argument, quotes, '%', '$' and line breaks in commands and environment values", () => {
    expectValid(
      withLines(
        '    command: [find, /data, -name, "", -exec, rm, "{}", ";"]',
        '    environment: { A: "100% of $HOME, \'quoted\' \\"twice\\"\\nand a tab\\t\\\\" }',
      ),
    );
  });
});
