/**
 * `archy app test DIR` end to end on the real rootless Podman of the test user (as root: `--user`
 * the test user): the production gate on one app directory, once, without chaos. A good app passes
 * every cell (exit 0); broken apps fail on the cell that catches what is wrong with them, and the
 * output says what was expected, what was observed, and shows the app's own last log lines.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TEST_USER } from "../../src/host/layout.ts";
import { isRoot } from "../support/gate-run.ts";
import { REPO_ROOT } from "../support/stage.ts";

const ARCHY = join(REPO_ROOT, "bin", "archy");
const work = mkdtempSync(join(tmpdir(), "archy-app-test-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

type Run = { code: number; stdout: string; stderr: string };

/** `archy app test ARGS` (as root: as the test user); a generous ceiling: the gate waits for its time limits. */
function appTest(args: string[]): Promise<Run> {
  const argv = ["app", "test", ...args, ...(isRoot ? ["--user", TEST_USER] : [])];
  return new Promise((resolve) => {
    execFile(
      ARCHY,
      argv,
      { cwd: work, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

const show = (run: Run) =>
  `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr (last lines) ---\n${run.stderr.split("\n").slice(-30).join("\n")}`;

/** An app directory named `id` in the work directory, on the test image, with one container `web`. */
function app(id: string, web: string, more = ""): string {
  const dir = join(work, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "manifest.yml"),
    `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: An app for archy app test.
category: utilities
license: MIT
containers:
  web:
    image: localhost/archy-test/busybox:1
    entrypoint: [/bin/sh, -c]
${web}
    stop_timeout: 5s
${more}`,
  );
  return id;
}

/** The line the summary prints for a cell. */
const cellLine = (run: Run, step: string) =>
  run.stdout.split("\n").find((l) => l.slice(6).startsWith(`${step} `));

const SERVED = `    command:
      - |-
        mkdir -p /data/www && echo served > /data/www/index.html && echo "app test: serving" && exec httpd -f -p 8080 -h /data/www
    ports:
      - container: 8080
        host: 18591
    volumes:
      - name: content
        path: /data
    health:
      type: http
      port: 8080
      path: /
      interval: 2s
      timeout: 1s
      retries: 3`;
const UI = `interfaces:
  ui:
    container: web
    port: 8080
    path: /
`;

describe("real Podman: archy app test DIR (the gate on one app, 1 iteration, no chaos)", () => {
  test("a good app passes every cell, exit code 0", { timeout: 1_000_000 }, async () => {
    const run = await appTest([app("apptest-good", SERVED, UI)]);
    assert.equal(run.code, 0, show(run));
    for (const step of [
      "install",
      "ui",
      "stop",
      "start",
      "restart",
      "daemon-restart",
      "reinstall",
      "uninstall",
      "install-again",
      "purge",
    ])
      assert.match(cellLine(run, step) ?? "", /^pass {2}/, `${step} passed\n${show(run)}`);
    assert.match(run.stdout, /^PASS: every cell that ran passed \(10 passed, 0 skipped\)$/m, show(run));
  });

  test("an app whose UI never answers fails on 'ui', saying what was expected and observed, exit code 1", {
    timeout: 1_000_000,
  }, async () => {
    const deaf = app(
      "apptest-deaf",
      `    command:
      - |-
        echo "app test: listening on nothing"; trap 'exit 0' TERM; while true; do sleep 1; done
    ports:
      - container: 8080
        host: 18592`,
      UI,
    );
    const run = await appTest([deaf, "--timeout-scale", "0.3"]);
    assert.equal(run.code, 1, show(run));
    assert.match(cellLine(run, "install") ?? "", /^pass {2}/, `the app installs and runs\n${show(run)}`);
    assert.match(cellLine(run, "ui") ?? "", /^FAIL {2}/, `the UI cell fails\n${show(run)}`);
    const evidence = run.stdout.slice(run.stdout.indexOf(cellLine(run, "ui") as string));
    assert.match(evidence, /^ {6}expected: http \d+\/ 2xx\/3xx$/m, show(run));
    assert.match(evidence, /^ {6}observed: http:\/\/127\.0\.0\.1:\d+\/: /m, show(run));
    assert.match(evidence, /the app's last log lines:\n.*app test: listening on nothing/, show(run));
    assert.match(run.stdout, /^FAIL: /m, show(run));
  });

  test("an app that wipes its volume when it starts fails on 'restart': its data did not survive", {
    timeout: 1_000_000,
  }, async () => {
    const forgetful = app(
      "apptest-forgetful",
      SERVED.replace("mkdir -p /data/www", "rm -rf /data/* /data/.[!.]*; mkdir -p /data/www").replace(
        "18591",
        "18593",
      ),
      UI,
    );
    const run = await appTest([forgetful]);
    assert.equal(run.code, 1, show(run));
    for (const step of ["install", "ui", "stop", "start"])
      assert.match(cellLine(run, step) ?? "", /^pass {2}/, `${step} passes: the app runs fine\n${show(run)}`);
    assert.match(cellLine(run, "restart") ?? "", /^FAIL {2}.*data changed across the restart/, show(run));
    assert.match(run.stdout, /observed: .*volume content: the marker file is gone/, show(run));
    assert.match(cellLine(run, "reinstall") ?? "", /^skip {2}.*not run: restart failed first$/, show(run));
  });

  test("a crash-looping app fails on 'install' with its own last words, said once with their count; its later cells are skipped, not waited for", {
    timeout: 1_000_000,
  }, async () => {
    const crashing = app(
      "apptest-crashloop",
      `    command:
      - |-
        echo "app test: cannot read /data/config.yml, exiting"; exit 3
    ports:
      - container: 8080
        host: 18594
    volumes:
      - name: content
        path: /data`,
      UI,
    );
    const run = await appTest([crashing, "--timeout-scale", "0.3"]);
    assert.equal(run.code, 1, show(run));
    // Not running in time, or (on a loaded machine) the install still retrying the container then.
    assert.match(
      cellLine(run, "install") ?? "",
      /^FAIL {2}.*(not running and healthy in time|still running at the time limit)/,
      show(run),
    );
    const evidence = run.stdout.slice(run.stdout.indexOf(cellLine(run, "install") as string));
    assert.match(
      evidence,
      /the app's last log lines:\n {8}web stdout: app test: cannot read \/data\/config\.yml, exiting {2}\(\d+ times\)$/m,
      `the app's own words, once, with how often it said them\n${show(run)}`,
    );
    for (const step of [
      "ui",
      "stop",
      "start",
      "restart",
      "daemon-restart",
      "reinstall",
      "uninstall",
      "install-again",
      "purge",
    ])
      assert.match(
        cellLine(run, step) ?? "",
        /^skip {2}\S+ +not run: install failed first$/,
        `${step} skipped\n${show(run)}`,
      );
    assert.match(run.stdout, /^FAIL: /m, show(run));
  });

  test("bad usage exits 2 and changes nothing: no directory, a path that is not one", async () => {
    const none = await appTest([]);
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /app test needs exactly one app directory/);
    const missing = await appTest([join(work, "no-such-app")]);
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /no-such-app is not a directory/);
  });
});

describe("archy app test --watch", () => {
  test("one change, one run: a plain write and an editor's safe save (a new file renamed over the old, twice) each run it once, and Ctrl-C stops it", {
    timeout: 180_000,
  }, async () => {
    // An invalid manifest: each run ends at validation, so this needs no Podman.
    const dir = join(work, "apptest-watched");
    mkdirSync(dir, { recursive: true });
    const manifest = join(dir, "manifest.yml");
    writeFileSync(manifest, "manifest: 1\nid: Not_An_Id\n");
    const child = spawn(ARCHY, ["app", "test", dir, "--watch"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const count = (pattern: RegExp) => (stderr.match(pattern) ?? []).length;
    const waits = /watching .*\(Ctrl-C stops\)/g;
    const runs = /nothing was tested/g;
    /** Waits for the watch's `n`th wait: run `n` is over; a ceiling that says what it saw. */
    const nthWait = async (n: number) => {
      const deadline = Date.now() + 60_000;
      while (count(waits) < n) {
        if (Date.now() > deadline) throw new Error(`waited for wait number ${n}; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    /** An editor's safe save: the new text in a file beside, renamed over the manifest. */
    const safeSave = (text: string) => {
      writeFileSync(join(dir, ".manifest.yml.tmp"), text);
      renameSync(join(dir, ".manifest.yml.tmp"), manifest);
    };
    try {
      await nthWait(1);
      assert.equal(count(runs), 1, stderr);
      writeFileSync(manifest, "manifest: 1\nid: Bad_1\n");
      await nthWait(2);
      safeSave("manifest: 1\nid: Bad_2\n");
      await nthWait(3);
      safeSave("manifest: 1\nid: Bad_3\n");
      await nthWait(4);
      child.kill("SIGINT");
      assert.equal(await exited, 1, `Ctrl-C ends the watch with the last run's exit code\n${stderr}`);
      assert.equal(count(runs), 4, `one run at the start and one per change, no more\n${stderr}`);
      const order = [...stderr.matchAll(/"(Not_An_Id|Bad_\d)" is not valid/g)].map((m) => m[1]);
      assert.deepEqual(
        order,
        ["Not_An_Id", "Bad_1", "Bad_2", "Bad_3"],
        `each run read its change\n${stderr}`,
      );
    } finally {
      child.kill("SIGKILL");
    }
  });
});
