/**
 * `archy gate` answers bad flags as a user would meet them: the real bin/archy in a child process,
 * exit code 2, one message naming the flag and what to write instead, and nothing written: no
 * report, no sandbox, no daemon started.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ARCHY = join(ROOT, "bin/archy");
const work = realpathSync(mkdtempSync(join(tmpdir(), "archy-gate-cli-")));
after(() => rmSync(work, { recursive: true, force: true }));

type Run = { code: number; stdout: string; stderr: string };

function gate(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(ARCHY, ["gate", ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const emptyDir = join(work, "empty-apps");
mkdirSync(emptyDir);

/** Each: the arguments, and what the one-line error must say. */
const CASES: Array<[string[], RegExp]> = [
  [["--iterations", "abc"], /--iterations: "abc" is not a whole number of at least 1/],
  [["--iterations", "0"], /--iterations: "0" is not a whole number of at least 1/],
  [["--apps", "nosuchapp"], /--apps: no app nosuchapp in the apps directory; there are: hello-web, /],
  [["--apps", ","], /--apps: name at least one app/],
  [["--steps", "install,bogus"], /--steps: unknown step bogus; steps are install, ui, stop/],
  [["--seed", "3"], /--seed only means something with --chaos/],
  [["--chaos", "--seed", "x"], /--seed: "x" is not a whole number/],
  [["--timeout-scale=-1"], /--timeout-scale: "-1" is not a positive number/],
  [["--apps-dir", "/nonexistent/apps"], /--apps-dir \/nonexistent\/apps: no such directory/],
  [["--apps-dir", emptyDir], /no app in it \(an app is a directory with a manifest\.yml\)/],
  [["--url", "http://127.0.0.1:9", "--keep"], /--keep is for a daemon the gate starts, not with --url/],
  [["--reboot-command", "true"], /--reboot-command is for an existing daemon: use it with --url/],
  [["leftover"], /unexpected argument 'leftover'/],
  [["--bogus"], /Unknown option '--bogus'/],
];

describe("archy gate: bad flags", () => {
  for (const [args, message] of CASES)
    test(`${args.join(" ").replace(work, "$TMP")}: exit 2, says why, writes nothing`, async () => {
      const cwd = mkdtempSync(join(work, "run-"));
      const run = await gate([...args, "--report", join(cwd, "report")], cwd);
      assert.equal(run.code, 2, `exit code\n${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "", "nothing on stdout");
      assert.deepEqual(readdirSync(cwd), [], "the gate wrote something");
    });
});
