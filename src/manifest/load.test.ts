import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { FIRST, MINIMAL, withLines } from "../../test/support/manifest-text.ts";
import { loadManifest } from "./load.ts";
import { MAX_MANIFEST_BYTES } from "./parse.ts";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "archy-load-")));
after(() => rmSync(dir, { recursive: true, force: true }));

test("loads a manifest file, naming it relative to the display base", async () => {
  const file = join(dir, "hello.yml");
  writeFileSync(file, MINIMAL);
  const loaded = await loadManifest(file, dir);
  assert.ok(loaded.ok);
  assert.equal(loaded.manifest.id, "hello");
  assert.equal(loaded.file, file);
  assert.equal(loaded.dir, dir);
});

test("loads manifest.yml (or manifest.yaml) from an app directory", async () => {
  const app = join(dir, "app");
  const other = join(dir, "other");
  for (const [path, name] of [
    [app, "manifest.yml"],
    [other, "manifest.yaml"],
  ] as const) {
    rmSync(path, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(path));
    writeFileSync(join(path, name), MINIMAL);
    const loaded = await loadManifest(path, dir);
    assert.ok(loaded.ok, name);
    assert.equal(loaded.file, join(path, name));
  }
});

test("issues name the file relative to the display base", async () => {
  const file = join(dir, "bad.yml");
  writeFileSync(file, `${MINIMAL}    memory: lots\n`);
  const loaded = await loadManifest(file, dir);
  assert.ok(!loaded.ok);
  assert.deepEqual(
    loaded.issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.rule}`),
    ["bad.yml:9:13 schema.format"],
  );
});

test("file.read: a path that does not exist is an issue, not an exception", async () => {
  const missing = join(dir, "nope", "manifest.yml");
  const loaded = await loadManifest(missing);
  assert.ok(!loaded.ok);
  assert.deepEqual(loaded.issues, [
    {
      file: missing,
      line: 0,
      column: 0,
      path: "(file)",
      message: "cannot read the manifest: no such file or directory",
      fix: "pass a manifest.yml file or an app directory that contains one",
      rule: "file.read",
    },
  ]);
});

test("file.read: a directory without a manifest", async () => {
  const empty = mkdtempSync(join(dir, "empty-"));
  const loaded = await loadManifest(empty);
  assert.ok(!loaded.ok);
  assert.equal(loaded.issues[0]?.rule, "file.read");
  assert.match(loaded.issues[0]?.message ?? "", /no manifest\.yml in directory/);
});

test("yaml.size: a huge file is read only up to the limit, and refused", async () => {
  const file = join(dir, "huge.yml");
  writeFileSync(file, MINIMAL + "#".repeat(4 * MAX_MANIFEST_BYTES));
  const loaded = await loadManifest(file, dir);
  assert.ok(!loaded.ok);
  assert.deepEqual(
    loaded.issues.map((i) => [i.rule, i.line]),
    [["yaml.size", 0]],
  );
});

test("file.read: a named pipe given as the manifest is refused, never opened to wait for a writer", {
  timeout: 60_000,
}, async () => {
  const fifo = join(dir, "pipe.yml");
  execFileSync("mkfifo", [fifo]);
  const loaded = await loadManifest(fifo, dir);
  assert.ok(!loaded.ok);
  assert.equal(loaded.issues[0]?.rule, "file.read");
  assert.match(
    loaded.issues[0]?.message ?? "",
    /cannot read the manifest: .*pipe\.yml is a named pipe, not a file/,
  );
});

test("file.read: a directory this user may not enter is one issue saying so", async () => {
  // Root enters any directory: a file in place of a directory on the way fails the same way.
  const blocked = join(dir, "blocked");
  writeFileSync(blocked, "not a directory\n");
  const loaded = await loadManifest(join(blocked, "manifest.yml"), dir);
  assert.ok(!loaded.ok);
  assert.match(
    loaded.issues[0]?.message ?? "",
    /cannot read the manifest: a part of the path is not a directory/,
  );
});

test("file.read: a copy source with a loop of links is refused with the reason, not read forever", {
  timeout: 60_000,
}, async () => {
  const app = appDir("loop", copyStep("files/d"), { "files/d/a.txt": "a\n" });
  symlinkSync(".", join(app, "files/d/self"));
  const loaded = await loadManifest(app, dir);
  assert.ok(!loaded.ok);
  assert.match(
    loaded.issues[0]?.message ?? "",
    /copy source d\/self leads back into a directory that holds it/,
  );
});

/** An app directory `name` with a manifest.yml of the minimal manifest plus `lines`, and `files` (path → content). */
function appDir(
  name: string,
  lines: string[],
  files: Record<string, string> = {},
  manifest = "manifest.yml",
): string {
  const app = join(dir, name);
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, manifest), withLines(...lines));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(app, path)), { recursive: true });
    writeFileSync(join(app, path), content);
  }
  return app;
}

const copyStep = (from: string) => [
  "hooks:",
  "  post_install:",
  `    - copy_from_host: { from: ${from}, container: web, to: /srv/file }`,
];

describe("file.app-file", () => {
  test("an icon that is not in the app directory: its line, and the missing path", async () => {
    const app = appDir("no-icon", ["icon: assets/icon.svg"]);
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(loaded.issues, [
      {
        file: "no-icon/manifest.yml",
        line: FIRST,
        column: 7,
        path: "icon",
        message: `icon assets/icon.svg does not exist under ${app}`,
        fix: "put the icon file itself (not a link to a file elsewhere) in the app directory, or use an https URL",
        rule: "file.app-file",
      },
    ]);
  });

  test("a copy_from_host source that is not in the app directory", async () => {
    const app = appDir("no-source", copyStep("files/welcome.html"), { "files/other.html": "x" });
    const loaded = await loadManifest(join(app, "manifest.yml"), dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(
      loaded.issues.map((i) => [i.rule, i.path, i.line, i.column, i.message]),
      [
        [
          "file.app-file",
          "hooks.post_install[0].copy_from_host.from",
          FIRST + 2,
          31,
          `copy source files/welcome.html does not exist under ${app}`,
        ],
      ],
    );
    assert.match(loaded.issues[0]?.fix ?? "", /correct `from`/);
  });

  test("symbolic links leading outside the app directory: of the file, of a directory on the way, inside a copied directory", async () => {
    const outside = join(dir, "outside");
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, "secret.txt"), "secret");
    const app = appDir("links", [...copyStep("files"), "icon: icon.svg"], { "files/ok.txt": "ok" });
    symlinkSync(join(outside, "secret.txt"), join(app, "icon.svg"));
    symlinkSync(join(outside, "secret.txt"), join(app, "files", "leak.txt"));
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(
      loaded.issues.map((i) => [i.rule, i.path, i.message]),
      [
        [
          "file.app-file",
          "hooks.post_install[0].copy_from_host.from",
          `copy source files/leak.txt is a link leading outside ${app}: refused`,
        ],
        [
          "file.app-file",
          "icon",
          `icon icon.svg resolves to ${join(outside, "secret.txt")}, outside ${app}: refused`,
        ],
      ],
    );
    const via = appDir("via-dir", copyStep("shared/secret.txt"));
    symlinkSync(outside, join(via, "shared"));
    const viaLoaded = await loadManifest(via, dir);
    assert.ok(!viaLoaded.ok);
    assert.match(viaLoaded.issues[0]?.message ?? "", /resolves to .*outside .*: refused$/);
  });

  test("an icon that is a directory", async () => {
    const app = appDir("icon-dir", ["icon: assets"], { "assets/icon.svg": "<svg/>" });
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.equal(loaded.issues[0]?.message, "icon assets is not a file");
  });

  test("`..` and absolute paths are refused by the manifest's own rules, before any file is read", async () => {
    writeFileSync(join(dir, "beside.txt"), "x");
    const app = appDir("dotdot", [...copyStep("../beside.txt"), "icon: ../beside.txt"]);
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(
      loaded.issues.map((i) => [i.rule, i.path]),
      [
        ["security.path", "hooks.post_install[0].copy_from_host.from"],
        ["security.path", "icon"],
      ],
    );
  });

  test("passing: the files are there (a link inside the directory is fine); a `root` copy and an https icon are not looked up here", async () => {
    const app = appDir(
      "complete",
      [
        ...copyStep("files"),
        "    - copy_from_host: { root: media, from: covers/none.png, container: web, to: /srv/cover.png }",
        "icon: icon.svg",
        "permissions:",
        "  media: { kind: host-path, path: /srv/media, reason: covers }",
      ],
      { "files/a.txt": "a", "files/sub/b.txt": "b", "real.svg": "<svg/>" },
    );
    symlinkSync("real.svg", join(app, "icon.svg"));
    symlinkSync("../real.svg", join(app, "files", "link.svg"));
    const loaded = await loadManifest(app, dir);
    assert.ok(loaded.ok, loaded.ok ? "" : JSON.stringify(loaded.issues));
    assert.ok((await loadManifest(appDir("remote-icon", ["icon: https://example.org/icon.svg"]), dir)).ok);
  });

  test("passing: a manifest file not named manifest.yml stands alone, without an app directory to check", async () => {
    const app = appDir("lone", ["icon: icon.svg"], {}, "example.yml");
    assert.ok((await loadManifest(join(app, "example.yml"), dir)).ok);
  });
});

describe("env_file", () => {
  const envFile = (path: string) => [`    env_file: [${path}]`];

  test("a line that is not NAME=value is refused at its line of the env file, naming the manifest's field", async () => {
    const app = appDir("env-syntax", envFile("config/web.env"), {
      "config/web.env": "# comment\nGOOD=1\nexport BAD=2\nno equals sign\n1X=3\nGOOD=again\n",
    });
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(loaded.issues[0], {
      file: "env-syntax/config/web.env",
      line: 3,
      column: 1,
      path: "containers.web.env_file[0]",
      message: "`export` is not part of the format",
      fix: "write BAD=… without it",
      rule: "envfile.syntax",
    });
    assert.deepEqual(
      loaded.issues.map((i) => [i.file, i.line, i.path, i.rule, i.message, i.fix]),
      [
        [
          "env-syntax/config/web.env",
          3,
          "containers.web.env_file[0]",
          "envfile.syntax",
          "`export` is not part of the format",
          "write BAD=… without it",
        ],
        [
          "env-syntax/config/web.env",
          4,
          "containers.web.env_file[0]",
          "envfile.syntax",
          '"no equals sign" is not NAME=value',
          "write NAME=value, or start a comment with #",
        ],
        [
          "env-syntax/config/web.env",
          5,
          "containers.web.env_file[0]",
          "envfile.syntax",
          '"1X" is not an environment variable name',
          "use letters, digits and _, not starting with a digit",
        ],
        [
          "env-syntax/config/web.env",
          6,
          "containers.web.env_file[0]",
          "envfile.syntax",
          "GOOD is set again (first on line 2)",
          "keep one GOOD=… line",
        ],
      ],
    );
  });

  test("a reference to a secret the manifest does not declare is refused at its line", async () => {
    const app = appDir("env-ref", envFile("web.env"), { "web.env": "A=1\nURL=x:$" + "{secret:nope}@h\n" });
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(
      loaded.issues.map((i) => [i.file, i.line, i.rule]),
      [["env-ref/web.env", 2, "ref.secret"]],
    );
    assert.match(
      loaded.issues[0]?.message ?? "",
      /^URL: \$\{secret:nope\} names a secret that is not declared/,
    );
  });

  test("a file outside the app directory (by a link), a missing one and one over 64 KiB are refused at the manifest's line", async () => {
    const outside = join(dir, "outside.env");
    writeFileSync(outside, "A=1\n");
    const app = appDir("env-outside", ["    env_file: [link.env, missing.env, big.env]"], {
      "big.env": `A=${"x".repeat(64 * 1024)}\n`,
    });
    symlinkSync(outside, join(app, "link.env"));
    const loaded = await loadManifest(app, dir);
    assert.ok(!loaded.ok);
    assert.deepEqual(
      loaded.issues.map((i) => [i.file, i.line, i.path, i.rule]),
      [0, 1, 2].map((n) => [
        "env-outside/manifest.yml",
        FIRST,
        `containers.web.env_file[${n}]`,
        "file.app-file",
      ]),
    );
    assert.match(loaded.issues[0]?.message ?? "", /env_file link\.env resolves to .*outside\.env, outside/);
    assert.match(loaded.issues[1]?.message ?? "", /env_file missing\.env does not exist/);
    assert.match(loaded.issues[2]?.message ?? "", /more than 64 KiB/);
  });

  test("a valid env file is read with the manifest, with its digest", async () => {
    const app = appDir("env-ok", envFile("web.env"), { "web.env": "A=1\n" });
    const loaded = await loadManifest(app, dir);
    assert.ok(loaded.ok, loaded.ok ? "" : JSON.stringify(loaded.issues));
    assert.deepEqual(Object.keys(loaded.envFiles ?? {}), ["web.env"]);
    assert.equal(loaded.envFiles?.["web.env"]?.text, "A=1\n");
    assert.match(loaded.envFiles?.["web.env"]?.sha256 ?? "", /^[0-9a-f]{64}$/);
  });
});
