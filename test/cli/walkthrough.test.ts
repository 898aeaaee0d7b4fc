/**
 * The developer's walk-through of docs/developing-apps.md, replayed from the doc itself: the
 * commands of its `sh replay` blocks, in order, each through `sh -c` as an unprivileged developer
 * (the test user, an empty home, `archy` on the PATH) with a real daemon, real rootless Podman and
 * a real local relay. Editing a command in the doc edits what runs here; the doc's heading says how
 * many commands there are, and a fast check holds it to that.
 *
 * What the replay's machine has that the reader's has not: its own Podman service
 * (ARCHY_PODMAN_SOCKET), free ports for the daemon (ARCHY_LISTEN, ARCHY_URL, which the CLI and the
 * daemon read) and for the relay (the doc's 127.0.0.1:7777, rewritten: `archy dev relay` has no
 * variable for it), so that the replay collides with nothing else on a shared machine.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TEST_USER } from "../../src/host/layout.ts";
import { LABELS } from "../../src/manifest/naming.ts";
import { eventually, httpGet } from "../support/driver.ts";
import { startPodmanService, type TestPodmanService } from "../support/podman-service.ts";
import { runAsTestUser, testUser, testUserEnv } from "../support/rootless.ts";
import { freePort, runPrefix } from "../support/samples.ts";
import { REPO_ROOT, stageForTestUser } from "../support/stage.ts";

const isRoot = process.getuid?.() === 0;
const DOC = join(REPO_ROOT, "docs", "developing-apps.md");

type Command = { line: string; background: boolean };

/** The commands of the doc's `sh replay` blocks, in order: one a line, comments and blank lines left out. */
export function replayedCommands(markdown: string): Command[] {
  const blocks = [...markdown.matchAll(/^```sh replay\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
  return blocks
    .flatMap((block) => block.split("\n"))
    .map((line) => line.replace(/(^|\s)#\s.*$/, "").trim())
    .filter((line) => line !== "")
    .map((line) =>
      line.endsWith(" &")
        ? { line: line.slice(0, -2).trim(), background: true }
        : { line, background: false },
    );
}

/** The number of commands the walk-through's heading announces. */
function announcedCount(markdown: string): number | undefined {
  const heading = /^## The walk-through: .* in (\d+) commands$/m.exec(markdown);
  return heading ? Number(heading[1]) : undefined;
}

describe("docs/developing-apps.md's walk-through", () => {
  test("has as many commands as its heading says, and backgrounds only what the replay knows how to wait for", () => {
    const markdown = readFileSync(DOC, "utf8");
    const commands = replayedCommands(markdown);
    assert.ok(commands.length > 0, "the doc has `sh replay` blocks");
    assert.equal(commands.length, announcedCount(markdown), commands.map((c) => c.line).join("\n"));
    for (const command of commands.filter((c) => c.background))
      assert.ok(
        readinessOf(command.line, "http://127.0.0.1:1"),
        `the replay knows when '${command.line}' is ready`,
      );
  });

  test("the command extraction keeps commands and drops comments, blanks and other blocks", () => {
    const markdown = [
      "```sh",
      "archy not-replayed",
      "```",
      "```sh replay",
      "# a comment",
      "archy one   # trailing comment",
      "",
      "sed -i 's|#x|y|' f",
      "archy two &",
      "```",
    ].join("\n");
    assert.deepEqual(replayedCommands(markdown), [
      { line: "archy one", background: false },
      { line: "sed -i 's|#x|y|' f", background: false },
      { line: "archy two", background: true },
    ]);
  });
});

/** How the replay knows a background command is ready, by what the command starts with. */
function readinessOf(
  line: string,
  daemonUrl: string,
): ((output: () => string) => Promise<unknown>) | undefined {
  if (line.startsWith("archy dev relay "))
    return (output) =>
      eventually("the relay says where it listens", async () => /^relay: ws:/m.test(output()));
  if (line === "archy daemon" || line.startsWith("archy daemon "))
    return () =>
      eventually(
        "the daemon answers and is connected to Podman",
        async () => {
          const response = await fetch(`${daemonUrl}/rpc/v1`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.info", params: {} }),
            signal: AbortSignal.timeout(2_000),
          }).catch(() => undefined);
          const body = (await response?.json().catch(() => undefined)) as
            | { result?: { backend: string } }
            | undefined;
          return body?.result !== undefined && body.result.backend !== "connecting to Podman";
        },
        90_000,
      );
  return undefined;
}

type Run = { code: number; stdout: string; stderr: string };
const show = (run: Run) => `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

describe("real Podman: the walk-through, replayed command by command from the doc", () => {
  const APP = "alice.my-app";
  const prefix = runPrefix();
  let root: string | undefined;
  let home = "/nonexistent";
  const background: Array<{ line: string; child: ChildProcess; output: () => string }> = [];
  let service: TestPodmanService | undefined;
  let env: Record<string, string> = {};

  /** argv as the developer (the test user), in the home directory, with the replay's environment. */
  function asDeveloper(argv: string[]): [string, string[]] {
    return isRoot
      ? [
          "runuser",
          ["-u", TEST_USER, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv],
        ]
      : [argv[0] as string, argv.slice(1)];
  }

  function runLine(line: string, timeoutMs: number): Promise<Run> {
    const [file, args] = asDeveloper(["sh", "-c", line]);
    return new Promise((resolve) => {
      execFile(
        file,
        args,
        { cwd: home, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  function startLine(line: string): { child: ChildProcess; output: () => string } {
    const [file, args] = asDeveloper(["sh", "-c", `exec ${line}`]);
    const child = spawn(file, args, { cwd: home, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return { child, output: () => output };
  }

  after(async () => {
    // What the walk-through leaves running: the app (uninstalled through the daemon while it runs),
    // then the daemon and the relay; Podman objects of the app that are still there go by label.
    if (background.some((b) => b.line.startsWith("archy daemon") && b.child.exitCode === null))
      await runLine(`archy uninstall ${APP} --purge`, 180_000);
    for (const { child } of background.reverse()) {
      try {
        process.kill(-(child.pid as number), "SIGTERM");
      } catch {}
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((resolve) => {
          const timer = setTimeout(() => {
            try {
              process.kill(-(child.pid as number), "SIGKILL");
            } catch {}
          }, 15_000);
          child.once("exit", () => resolve(clearTimeout(timer)));
        });
    }
    const label = `label=${LABELS.app}=${APP}`;
    for (const list of [
      ["container", "ls", "-a"],
      ["volume", "ls"],
      ["network", "ls"],
    ]) {
      const kind = list[0] as string;
      const names = (await runAsTestUser(["podman", ...list, "--filter", label, "-q"])).stdout;
      const ids = names.split("\n").filter(Boolean);
      if (ids.length > 0) await runAsTestUser(["podman", kind, "rm", "-f", ...ids]);
    }
    await service?.close();
    if (root === undefined) return;
    if (!isRoot) await runAsTestUser(["podman", "unshare", "rm", "-rf", root]);
    rmSync(root, { recursive: true, force: true });
  });

  test("new, edit, validate, app test, keygen, relay, publish, daemon, relays add, refresh, install, status: each exits 0, and the node serves the edited page", {
    timeout: 1_800_000,
  }, async () => {
    const markdown = readFileSync(DOC, "utf8");
    const relayPort = await freePort();
    const daemonPort = await freePort();
    // The doc's relay address, moved to a free port; each rewrite must apply, or the doc moved on.
    const rewrites: Array<[string, string]> = [["127.0.0.1:7777", `127.0.0.1:${relayPort}`]];
    for (const [from] of rewrites) assert.ok(markdown.includes(from), `the walk-through uses ${from}`);
    const commands = replayedCommands(markdown).map((c) => ({
      ...c,
      line: rewrites.reduce((line, [from, to]) => line.replaceAll(from, to), c.line),
    }));
    assert.equal(commands.length, announcedCount(markdown));

    service = await startPodmanService(`walk-${prefix}`);
    root = mkdtempSync(`/tmp/archy-walk-${prefix}-`);
    home = join(root, "home");
    chmodSync(root, 0o755); // the developer (the test user) goes through it to its home
    mkdirSync(home, { mode: 0o700 });
    if (isRoot) chownSync(home, testUser.uid, testUser.gid);
    const staged = stageForTestUser();
    const daemonUrl = `http://127.0.0.1:${daemonPort}`;
    const base = testUserEnv();
    env = {
      ...base,
      HOME: home,
      PATH: `${join(staged.dir, "bin")}:${base.PATH}`,
      ARCHY_LISTEN: `127.0.0.1:${daemonPort}`,
      ARCHY_URL: daemonUrl,
      ARCHY_PODMAN_SOCKET: service.socketPath,
    };

    const transcript: string[] = [];
    for (const [index, command] of commands.entries()) {
      const step = `command ${index + 1} of ${commands.length}: ${command.line}`;
      if (command.background) {
        const started = startLine(command.line);
        background.push({ line: command.line, ...started });
        const ready = readinessOf(command.line, daemonUrl);
        assert.ok(ready, `the replay knows when '${command.line}' is ready`);
        await ready(started.output).catch((error: Error) => {
          throw new Error(`${step}: ${error.message}\n--- its output ---\n${started.output()}`);
        });
        transcript.push(`$ ${command.line} &  (ready)`);
        continue;
      }
      const run = await runLine(command.line, 900_000);
      transcript.push(`$ ${command.line}\n${run.stdout}${run.stderr}`);
      const daemon = background.find((b) => b.line.startsWith("archy daemon"));
      assert.equal(
        run.code,
        0,
        `${step}\n${show(run)}${daemon ? `\n--- the daemon's last output ---\n${daemon.output().slice(-4000)}` : ""}`,
      );
    }

    const story = transcript.join("\n");
    assert.match(story, /^PASS: every cell that ran passed/m, `app test passed every cell\n${story}`);
    assert.match(story, new RegExp(`^relay ws://127\\.0\\.0\\.1:${relayPort}/?: published$`, "m"), story);
    assert.match(story, new RegExp(`${APP.replace(".", "\\.")} 0\\.1\\.0 is installed and running`), story);
    const manifest = readFileSync(join(home, APP, "manifest.yml"), "utf8");
    const port = Number(/^ {8}host: (\d+)$/m.exec(manifest)?.[1]);
    assert.ok(port > 0, `the app's host port in its manifest\n${manifest}`);
    const page = await eventually("the installed app serves its page", async () => {
      const answer = await httpGet(port);
      return answer?.status === 200 ? answer : undefined;
    });
    assert.match(
      page.body,
      /<h1>Hello from my app<\/h1>/,
      "the page is the edited one, from the published bundle",
    );
  });
});
