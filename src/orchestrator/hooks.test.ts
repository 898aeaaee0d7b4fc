import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeRuntime } from "../../test/support/fake-runtime.ts";
import { expectValid, withLines } from "../../test/support/manifest-text.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { HookError, readHostTree, runHook } from "./hooks.ts";
import { HostPathGuard } from "./host-path-guard.ts";
import type { Health } from "./planner.ts";

/** For hooks without a `wait` step: no container's health is ever asked. */
const unprobed = (): never => {
  throw new Error("no wait step here asks for health");
};

describe("copy_from_host canonicalisation", () => {
  let base: string;
  let root: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), "archy-hooks-"));
    root = join(base, "app");
    mkdirSync(join(root, "files", "nested"), { recursive: true });
    writeFileSync(join(root, "files", "ok.txt"), "fine\n");
    writeFileSync(join(root, "files", "nested", "deep.txt"), "deep\n");
    writeFileSync(join(base, "secret.txt"), "outside\n");
    symlinkSync(join(base, "secret.txt"), join(root, "files", "escape-link"));
    symlinkSync("../../secret.txt", join(root, "files", "relative-escape"));
    symlinkSync(base, join(root, "dir-escape"));
    symlinkSync("ok.txt", join(root, "files", "inside-link"));
    mkdirSync(join(root, "tree"));
    writeFileSync(join(root, "tree", "a.txt"), "a\n");
    symlinkSync(join(base, "secret.txt"), join(root, "tree", "sneaky"));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test("a file inside the root is read", async () => {
    const tree = await readHostTree(root, "files/ok.txt");
    assert.deepEqual(
      tree.entries.map((e) => [e.relative, e.type, e.data?.toString()]),
      [["ok.txt", "file", "fine\n"]],
    );
  });

  test("a directory is read whole, in a stable order", async () => {
    const tree = await readHostTree(root, "files/nested");
    assert.deepEqual(
      tree.entries.map((e) => e.relative),
      ["nested", "nested/deep.txt"],
    );
  });

  test("a link that stays inside the root is followed", async () => {
    const tree = await readHostTree(root, "files/inside-link");
    assert.equal(tree.entries[0]?.data?.toString(), "fine\n");
  });

  for (const [what, path] of [
    ["an absolute path", "/etc/passwd"],
    ["a path with ..", "../secret.txt"],
    ["a path that climbs out in the middle", "files/../../secret.txt"],
    ["an empty segment", "files//ok.txt"],
    ["a NUL byte", "files/ok.txt\0"],
    ["an absolute link to a file outside", "files/escape-link"],
    ["a relative link climbing out", "files/relative-escape"],
    ["a file reached through a directory link pointing outside", "dir-escape/secret.txt"],
    ["a directory holding a link that points outside", "tree"],
    ["a missing file", "files/nope.txt"],
  ] as const) {
    test(`refuses ${what}`, async () => {
      await assert.rejects(readHostTree(root, path), (error: Error) => {
        assert.ok(error instanceof HookError, String(error));
        assert.match(error.message, /copy_from_host/);
        return true;
      });
    });
  }

  test("refuses the root itself and a root that does not exist", async () => {
    await assert.rejects(readHostTree(root, "."), HookError);
    await assert.rejects(readHostTree(join(base, "missing"), "x"), /does not exist/);
  });
});

describe("copy_from_host into directories that do not exist yet", () => {
  /** The names in a tar archive (ustar headers: the name is the first 100 bytes of each). */
  function tarNames(archive: Buffer): string[] {
    const names: string[] = [];
    for (let at = 0; at + 512 <= archive.length; ) {
      const name = archive
        .subarray(at, at + 100)
        .toString("utf8")
        .replace(/\0.*$/s, "");
      if (!name) break;
      const size = Number.parseInt(
        archive
          .subarray(at + 124, at + 136)
          .toString("utf8")
          .trim() || "0",
        8,
      );
      names.push(name);
      at += 512 + Math.ceil(size / 512) * 512;
    }
    return names;
  }

  test("only the missing directories are in the archive, put into the deepest one that exists", async () => {
    const base = mkdtempSync(join(tmpdir(), "archy-hooks-"));
    try {
      mkdirSync(join(base, "files"));
      writeFileSync(join(base, "files", "seed.txt"), "seed\n");
      const parsed = expectValid(
        withLines(
          "hooks:",
          "  post_install:",
          "    - copy_from_host: { from: files/seed.txt, container: web, to: /tmp/shared/a/b/seed.txt }",
        ),
      );
      // Podman answers not-found for a path that does not exist; /tmp/shared does (mode 1777, say).
      const runtime = new FakeRuntime();
      runtime.directories = new Set(["/", "/tmp", "/tmp/shared"]);
      const lines: string[] = [];
      await runHook(parsed.manifest, "post_install", {
        runtime,
        appDir: base,
        containers: new Map([["web", { id: "c1", name: "hello", backend: "podman", unit: undefined }]]),
        note: (_level, message) => lines.push(message),
        hostPaths: new HostPathGuard({ protectedDirs: () => [] }),
        healthOf: unprobed,
      });
      assert.deepEqual(
        runtime.copies.map((c) => ({ path: c.directory, names: tarNames(Buffer.from(c.archive)) })),
        [{ path: "/tmp/shared", names: ["a/", "a/b/", "a/b/seed.txt"] }],
      );
      assert.ok(
        lines.includes("post_install step 1: copied files/seed.txt to web:/tmp/shared/a/b/seed.txt"),
        lines.join("\n"),
      );
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("copy_from_host from a catalog app's package", () => {
  test("verified at use: a copy its package's check refuses fails the hook, and nothing is copied", async () => {
    const base = mkdtempSync(join(tmpdir(), "archy-hooks-"));
    try {
      mkdirSync(join(base, "files"));
      writeFileSync(join(base, "files", "seed.txt"), "changed on disk\n");
      const parsed = expectValid(
        withLines(
          "hooks:",
          "  post_install:",
          "    - copy_from_host: { from: files/seed.txt, container: web, to: /data/seed.txt }",
        ),
      );
      const runtime = new FakeRuntime();
      const checked: Array<[string, string[]]> = [];
      await assert.rejects(
        runHook(parsed.manifest, "post_install", {
          runtime,
          appDir: base,
          verifyCopy: (from, tree) => {
            checked.push([from, tree.entries.map((e) => `${e.relative}=${e.data?.toString()}`)]);
            return "files/seed.txt does not match its signed length and hashes";
          },
          containers: new Map([["web", { id: "c1", name: "hello", backend: "podman", unit: undefined }]]),
          note: () => {},
          healthOf: unprobed,
          hostPaths: new HostPathGuard({ protectedDirs: () => [] }),
        }),
        (error: Error) => {
          assert.ok(error instanceof HookError, String(error));
          assert.equal(
            error.message,
            "post_install step 1: files/seed.txt does not match its signed length and hashes",
          );
          return true;
        },
      );
      assert.deepEqual(
        checked,
        [["files/seed.txt", ["seed.txt=changed on disk\n"]]],
        "the bytes copied are checked",
      );
      assert.deepEqual(runtime.calls, [], "nothing reached the container");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("a failing exec step", () => {
  /** A database-init script as packagers write them: many lines, the failing command among them. */
  const SCRIPT = [
    "set -e",
    "echo creating the role",
    "psql -c 'CREATE DATABASE wiki' # and the rest of a long script that must not become the reason",
    "echo done",
  ].join("\n");
  const manifest = () =>
    expectValid(
      withLines(
        "hooks:",
        "  post_install:",
        `    - exec: { container: web, command: ["sh", "-c", ${JSON.stringify(SCRIPT)}] }`,
      ),
    ).manifest;
  const run = (result: { exitCode: number; stdout: string; stderr: string }) => {
    const notes: Array<[string, string]> = [];
    const hook = runHook(manifest(), "post_install", {
      runtime: { exec: async () => result } as unknown as Runtime,
      appDir: undefined,
      containers: new Map([["web", { id: "c1", name: "hello", backend: "podman", unit: undefined }]]),
      note: (level, message) => notes.push([level, message]),
      hostPaths: new HostPathGuard({ protectedDirs: () => [] }),
      healthOf: unprobed,
    });
    return { hook, notes };
  };

  test("the reason names the exit code and the last output lines, not the script; output is logged as output", async () => {
    const { hook, notes } = run({
      exitCode: 2,
      stdout: "creating the role\n\n",
      stderr: 'psql: error: connection refused\n\tIs the server running on host "db"?\n',
    });
    await assert.rejects(hook, (error: Error) => {
      assert.ok(error instanceof HookError, String(error));
      assert.equal(
        error.message,
        'post_install step 1: `sh -c set -e…` exited with 2; its last lines: creating the role | psql: error: connection refused | \tIs the server running on host "db"?',
      );
      assert.doesNotMatch(error.message, /CREATE DATABASE/);
      return true;
    });
    // What the program printed is its output, not an error of the platform's: the failure is one line.
    assert.deepEqual(
      notes.filter(([level]) => level !== "info"),
      [],
    );
    assert.ok(
      notes.some(([, message]) => message === "post_install step 1: psql: error: connection refused"),
    );
  });

  test("a step that fails silently says it printed nothing", async () => {
    await assert.rejects(run({ exitCode: 1, stdout: "", stderr: "" }).hook, {
      message: "post_install step 1: `sh -c set -e…` exited with 1 and printed nothing",
    });
  });
});

describe("a wait step", () => {
  const manifest = (timeout: string) =>
    expectValid(
      withLines(
        "    ports: [{ container: 8080 }]",
        "    health: { type: tcp, port: 8080, interval: 1s }",
        "hooks:",
        "  post_install:",
        `    - wait: { container: web, timeout: ${timeout} }`,
        '    - exec: { container: web, command: ["init-db"] }',
      ),
    ).manifest;
  const run = (verdicts: Health[], timeout: string) => {
    const execs: string[][] = [];
    const notes: string[] = [];
    let asked = 0;
    const hook = runHook(manifest(timeout), "post_install", {
      runtime: {
        exec: async (_c: unknown, command: string[]) => {
          execs.push(command);
          return { exitCode: 0, stdout: "", stderr: "" };
        },
      } as unknown as Runtime,
      appDir: undefined,
      containers: new Map([["web", { id: "c1", name: "hello", backend: "podman", unit: undefined }]]),
      note: (_level, message) => notes.push(message),
      hostPaths: new HostPathGuard({ protectedDirs: () => [] }),
      healthOf: () => {
        const health = verdicts[Math.min(asked, verdicts.length - 1)] as Health;
        asked++;
        return { health, detail: "connection refused\n" };
      },
    });
    return { hook, execs, notes, asked: () => asked };
  };

  test("the next step runs only once the container is called healthy", async () => {
    const { hook, execs, notes, asked } = run(["starting", "starting", "healthy"], "60s");
    await hook;
    assert.equal(asked(), 3, "asked until the verdict was healthy, not after");
    assert.deepEqual(execs, [["init-db"]]);
    assert.ok(notes.includes("post_install step 1: web is healthy"), notes.join("\n"));
  });

  test("a container never healthy fails the step with its verdict and last probe, and later steps do not run", async () => {
    const { hook, execs } = run(["unhealthy"], "0.3s");
    await assert.rejects(hook, (error: Error) => {
      assert.ok(error instanceof HookError);
      assert.equal(
        error.message,
        "post_install step 1: web was not healthy within 0.3 s (it is unhealthy; its last probe said: connection refused)",
      );
      return true;
    });
    assert.deepEqual(execs, []);
  });
});
