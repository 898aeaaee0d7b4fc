/**
 * `archy app validate` over thousands of paths keeps its memory bounded: manifests are read a few at
 * a time, each into a buffer of its own size (before: all at once, each into a 256 KiB buffer, and
 * 5,000 small manifests peaked at 1 GB of RSS).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE = join(ROOT, "node_modules/node/bin/node");
const MAIN = join(ROOT, "src/cli/main.ts");
const APPS = 5000;
/** Peak RSS allowed, in KiB: the CLI needs about 250 MB for 5,000 apps, and took 1 GB before. */
const MAX_RSS_KIB = 500 * 1024;
/** Prints the process's peak RSS (KiB) as its last line of stderr. */
const REPORT_RSS =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss "+process.resourceUsage().maxRSS+"\\n"))';

const work = mkdtempSync(join(tmpdir(), "archy-validate-many-"));
after(() => rmSync(work, { recursive: true, force: true }));

test(`validating ${APPS} app directories stays under ${MAX_RSS_KIB / 1024} MB of RSS`, async () => {
  for (let i = 0; i < APPS; i++) {
    mkdirSync(join(work, `app${i}`));
    writeFileSync(
      join(work, `app${i}`, "manifest.yml"),
      `manifest: 1\nid: app${i}\nversion: 1.0.0\nname: App ${i}\ndescription: One of many\ncontainers:\n  web:\n    image: docker.io/library/nginx:1.27\n`,
    );
  }
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      NODE,
      ["--disable-warning=ExperimentalWarning", "--import", REPORT_RSS, MAIN, "app", "validate", work],
      { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  assert.equal(run.code, 0, run.stderr.slice(-2000));
  assert.match(run.stdout, new RegExp(`^${APPS} valid, 0 invalid$`, "m"));
  const rss = Number(/^maxrss (\d+)$/m.exec(run.stderr)?.[1]);
  assert.ok(Number.isInteger(rss) && rss > 0, `no peak RSS reported: ${run.stderr.slice(-500)}`);
  assert.ok(rss < MAX_RSS_KIB, `peak RSS ${Math.round(rss / 1024)} MB`);
});
