import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asUserArgv, exec, shellJoin, shellQuote } from "./exec.ts";

const user = { name: "archy-test", uid: 1001, gid: 1001, home: "/home/archy-test" };

describe("shellQuote", () => {
  it("leaves plain words alone and single-quotes the rest", () => {
    assert.equal(shellQuote("Dir::Cache=/var/cache/x"), "Dir::Cache=/var/cache/x");
    assert.equal(shellQuote("podman_*.deb"), "'podman_*.deb'");
    assert.equal(shellQuote(""), "''");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellJoin(["echo", "a b", "$HOME"]), "echo 'a b' '$HOME'");
  });
});

describe("asUserArgv", () => {
  it("goes through runuser with a clean environment as root", () => {
    assert.deepEqual(asUserArgv(user, ["podman", "info"], 0), [
      "runuser",
      "-u",
      "archy-test",
      "--",
      "env",
      "-i",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=/home/archy-test",
      "USER=archy-test",
      "LOGNAME=archy-test",
      "XDG_RUNTIME_DIR=/run/user/1001",
      "LANG=C.UTF-8",
      "podman",
      "info",
    ]);
  });

  it("runs directly when not root", () => {
    assert.deepEqual(asUserArgv(user, ["podman", "info"], 1001), ["podman", "info"]);
  });
});

describe("exec", () => {
  it("collects output and the exit code without throwing", async () => {
    assert.deepEqual(await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]), {
      code: 3,
      stdout: "out\n",
      stderr: "err\n",
    });
  });

  it("passes arguments verbatim (no shell)", async () => {
    const result = await exec("printf", ["%s|", "$(id)", "a b"]);
    assert.equal(result.stdout, "$(id)|a b|");
  });

  it("feeds input and environment", async () => {
    const result = await exec("sh", ["-c", 'cat; echo "$X"'], { input: "in\n", env: { X: "y" } });
    assert.equal(result.stdout, "in\ny\n");
  });

  it("reports a missing program as 127", async () => {
    const result = await exec("/nonexistent/program", []);
    assert.equal(result.code, 127);
    assert.match(result.stderr, /ENOENT/);
  });

  it("kills a program that outlives its timeout and reports 124", async () => {
    // Left alone, sleep would exit 0 after 10 s: 124 is the kill.
    const result = await exec("sleep", ["10"], { timeoutMs: 200 });
    assert.equal(result.code, 124);
    assert.match(result.stderr, /timed out after 200 ms/);
  });
});
