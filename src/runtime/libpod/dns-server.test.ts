import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { DnsServer, netavarkRunDir, processStateOf } from "./dns-server.ts";

const root = mkdtempSync(join(tmpdir(), "archy-dns-server-"));
after(() => rmSync(root, { recursive: true, force: true }));

function runDirWithPid(pid: number | string): string {
  const dir = mkdtempSync(join(root, "run-"));
  mkdirSync(join(dir, "aardvark-dns"));
  writeFileSync(join(dir, "aardvark-dns", "aardvark.pid"), String(pid));
  return dir;
}

/**
 * A zombie for as long as its parent lives: the shell starts a child that exits half a second
 * later, then becomes `sleep`, which never reaps it (the delay keeps the shell from reaping the
 * child itself before it is replaced). Killing the parent hands the zombie to PID 1, which reaps it.
 */
async function zombie(): Promise<{ pid: number; killParent: () => Promise<void> }> {
  const parent = spawn("/bin/sh", ["-c", "(sleep 0.5; exit 0) & echo $!; exec sleep 60"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise((resolve) => parent.on("exit", resolve));
  const pid = await new Promise<number>((resolve) =>
    parent.stdout.once("data", (chunk) => resolve(Number.parseInt(String(chunk), 10))),
  );
  const server = new DnsServer(async () => runDirWithPid(pid));
  for (let i = 0; i < 500 && (await server.state()) !== "zombie"; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    pid,
    killParent: async () => {
      parent.kill("SIGKILL");
      await exited;
    },
  };
}

describe("DNS server guard", () => {
  test("netavark's run directory: under the run root rootless, shared when root", () => {
    assert.equal(
      netavarkRunDir({ rootless: true, runRoot: "/run/user/1001/containers" }),
      "/run/user/1001/containers/networks",
    );
    assert.equal(
      netavarkRunDir({ rootless: false, runRoot: "/run/containers/storage" }),
      "/run/containers/networks",
    );
  });

  test("the process state is read after the command, whatever the command holds", () => {
    assert.equal(processStateOf("4242 (aardvark-dns) S 1 4242 4242 0 -1"), "S");
    assert.equal(processStateOf("4242 (odd) name) Z 1 4242"), "Z");
    assert.equal(processStateOf(""), undefined);
  });

  test("no pid file, or an unreadable run directory, is no server", async () => {
    assert.equal(await new DnsServer(async () => join(root, "missing")).state(), "none");
    assert.equal(await new DnsServer(async () => undefined).state(), "none");
    assert.equal(
      await new DnsServer(async () => {
        throw new Error("Podman unavailable");
      }).state(),
      "none",
    );
    assert.equal(await new DnsServer(async () => runDirWithPid("garbage")).state(), "none");
  });

  test("a live server is running; a pid that is gone is gone, and settling does not wait for it", async () => {
    const live = new DnsServer(async () => runDirWithPid(process.pid));
    assert.equal(await live.state(), "running");
    assert.equal(await live.settle(), "running");
    const exited = spawn("/bin/true");
    await new Promise((resolve) => exited.on("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const gone = new DnsServer(async () => runDirWithPid(exited.pid as number));
    assert.equal(await gone.state(), "gone");
    assert.equal(await gone.settle(), "gone");
  });

  test("settle removes the pid file of a zombie server, so that the next setup starts a new one", async () => {
    const { pid, killParent } = await zombie();
    try {
      const dir = runDirWithPid(pid);
      const pidFile = join(dir, "aardvark-dns", "aardvark.pid");
      const server = new DnsServer(async () => dir, { reapTimeoutMs: 30_000 });
      assert.equal(await server.state(), "zombie");
      const started = Date.now();
      assert.equal(await server.settle(), "cleared");
      assert.ok(Date.now() - started < 5_000, "no wait for the reaping");
      assert.equal(existsSync(pidFile), false, "the dead server's pid file is gone");
      assert.equal(await server.state(), "none");
      assert.equal(await server.settle(), "none", "nothing left to settle");
    } finally {
      await killParent();
    }
  });

  test("a live server's pid file is never removed", async () => {
    const dir = runDirWithPid(process.pid);
    assert.equal(await new DnsServer(async () => dir).settle(), "running");
    assert.equal(existsSync(join(dir, "aardvark-dns", "aardvark.pid")), true);
  });

  test("where the pid file cannot be removed, settle waits for the reaping, up to its time limit", async () => {
    const { pid, killParent } = await zombie();
    const refuse = async () => {
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    };
    try {
      const server = new DnsServer(async () => runDirWithPid(pid), { reapTimeoutMs: 100, remove: refuse });
      assert.equal(await server.state(), "zombie");
      assert.equal(await server.settle(), "zombie", "the time limit ends the wait");

      const patient = new DnsServer(async () => runDirWithPid(pid), {
        reapTimeoutMs: 30_000,
        remove: refuse,
      });
      const settled = patient.settle();
      await killParent();
      assert.equal(await settled, "gone", "the wait ends once the zombie is reaped");
    } finally {
      await killParent();
    }
  });
});
