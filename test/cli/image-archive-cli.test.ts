/**
 * `archy image export` / `import` end to end, through real daemons (`archy daemon` as the test
 * user), the real registry (TLS, auth), skopeo and Podman: daemon A installs an app pinned by
 * digest and exports it to a file; with the image gone from the node, the registry down and A
 * stopped, daemon B (its own data, an empty apps directory, no credentials) refuses a tampered copy
 * of the archive, changing nothing, then imports the archive and installs the app from it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { YAMLMap } from "yaml";
import {
  ARCHY,
  archy,
  DaemonProcess,
  daemonConnected,
  labDaemonArgs,
  show,
} from "../support/daemon-process.ts";
import { Lab, type TestApp } from "../support/driver.ts";
import {
  buildUniqueImage,
  forgetImage,
  type PushedImage,
  startRegistry,
  type TestRegistry,
} from "../support/registry.ts";
import { testUser } from "../support/rootless.ts";
import { freePort } from "../support/samples.ts";
import { entryOffset } from "../support/tar-offsets.ts";

const isRoot = process.getuid?.() === 0;

let lab: Lab;
let registry: TestRegistry;
let image: PushedImage;
let app: TestApp;
const daemons: DaemonProcess[] = [];

/** A data or apps directory of the test user's under the lab. */
function testUserDir(name: string): string {
  const dir = join(lab.root, name);
  mkdirSync(dir, { mode: 0o755 });
  if (isRoot) chownSync(dir, testUser.uid, testUser.gid);
  return dir;
}

async function startDaemon(
  args: string[],
  url: string,
): Promise<{ daemon: DaemonProcess; env: Record<string, string> }> {
  const daemon = new DaemonProcess(args);
  daemons.push(daemon);
  await daemonConnected(url, daemon);
  const dataDir = args[args.indexOf("--data-dir") + 1] as string;
  return { daemon, env: { ARCHY_URL: url, ARCHY_TOKEN_FILE: join(dataDir, "state", "cli-token") } };
}

/** `archy ARGS > file` (the archive is bytes: not through a string). */
function archyToFile(
  args: string[],
  env: Record<string, string>,
  file: string,
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "sh",
      ["-c", `"$0" "$@" > '${file}'`, ARCHY, ...args],
      { env: { ...process.env, ...env }, timeout: 300_000 },
      (error, _stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          stderr: String(stderr),
        }),
    );
  });
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("archy image export / import between two daemons, the registry down", { concurrency: false }, () => {
  let archive: string;
  let appsB: string;
  let envB: Record<string, string>;
  let urlB: string;

  before(async () => {
    lab = await Lab.create();
    registry = await startRegistry();
    const local = await buildUniqueImage(`${lab.prefix}-cli-airgap`, 1024 * 1024);
    image = await registry.push(`archy/${lab.prefix}-cli-airgap:1`, local);
    await forgetImage(local);
    app = await lab.app("hello-web", { variant: "airgap" });
    await lab.editManifest(app, (doc) =>
      (doc.getIn(["containers", "web"]) as YAMLMap).set("image", image.pinned),
    );
    archive = join(lab.root, "app.tar");
  });

  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    await lab?.close();
    if (image) await forgetImage(image.pinned);
    await registry?.stop();
  });

  test("daemon A: export refuses a caller without the CLI token, then writes the installed app's archive to stdout", async () => {
    const urlA = `http://127.0.0.1:${await freePort()}`;
    const { daemon, env } = await startDaemon(labDaemonArgs(lab, testUserDir("daemon-a"), urlA), urlA);
    const login = await archy(
      ["registry", "login", registry.host, "--username", registry.username],
      env,
      60_000,
      `${registry.password}\n`,
    );
    assert.equal(login.code, 0, show(login));
    const install = await archy(["install", app.id], env);
    assert.equal(install.code, 0, show(install));

    const anonymous = await fetch(`${urlA}/images/v1/export?app=${app.id}`);
    assert.equal(anonymous.status, 401);
    assert.match(((await anonymous.json()) as { error: string }).error, /CLI token/);

    const run = await archyToFile(["image", "export", app.id], env, archive);
    assert.equal(run.code, 0, run.stderr);
    const bytes = readFileSync(archive);
    const manifest = readFileSync(registry.blobFile(image.digest));
    const offset = entryOffset(bytes, `blobs/sha256/${image.digest.slice("sha256:".length)}`);
    assert.ok(
      bytes.subarray(offset, offset + manifest.length).equals(manifest),
      "the registry's manifest, byte for byte",
    );

    const uninstall = await archy(["uninstall", app.id, "--purge"], env);
    assert.equal(uninstall.code, 0, show(uninstall));
    await daemon.stop();
    await forgetImage(image.pinned);
    await registry.halt();
    urlB = `http://127.0.0.1:${await freePort()}`;
    appsB = testUserDir("apps-b");
    const argsB = labDaemonArgs(lab, testUserDir("daemon-b"), urlB);
    argsB[argsB.indexOf("--apps-dir") + 1] = appsB;
    envB = (await startDaemon(argsB, urlB)).env;
  });

  test("daemon B refuses an archive with a layer's byte changed, naming the image and the blob; nothing is imported", async () => {
    const bytes = readFileSync(archive);
    const [layer] = registry.layers(image).slice(-1);
    const offset = entryOffset(bytes, `blobs/sha256/${(layer as string).slice("sha256:".length)}`);
    bytes[offset + 100] = ((bytes[offset + 100] as number) + 1) % 256;
    const tampered = join(lab.root, "tampered.tar");
    writeFileSync(tampered, bytes, { mode: 0o644 });
    const run = await archy(["image", "import", tampered], envB);
    assert.equal(run.code, 1, show(run));
    assert.match(
      run.stderr,
      new RegExp(
        `nothing was imported: ${literal(image.pinned)}: its blob ${layer} in the archive is not what its digest says`,
      ),
      show(run),
    );
    assert.ok(!run.stderr.includes(lab.root), `the daemon's paths are not shown: ${run.stderr}`);
    await assert.rejects(lab.podman(["image", "exists", image.pinned]), "the image is not in Podman's store");
    assert.deepEqual(readdirSync(appsB), [], "nothing in the apps directory");
  });

  test("daemon B imports the archive (image verified and loaded by digest, app in its apps directory) and installs the app with the registry down", async () => {
    const run = await archy(["image", "import", archive], envB);
    assert.equal(run.code, 0, show(run));
    assert.match(
      run.stdout,
      new RegExp(
        `^imported ${literal(app.id)} 1\\.2\\.0 into .*; 1 image verified, 1 loaded into Podman's store`,
      ),
      show(run),
    );
    assert.ok(existsSync(join(appsB, app.id, "manifest.yml")), "the app is in B's apps directory");
    const install = await archy(["install", app.id], envB);
    assert.equal(install.code, 0, show(install));
    assert.ok(install.stdout.includes("phase: running"), show(install));
    assert.ok(!install.stdout.includes("pulling "), `nothing was pulled\n${show(install)}`);
    const uninstall = await archy(["uninstall", app.id, "--purge"], envB);
    assert.equal(uninstall.code, 0, show(uninstall));
  });
});
