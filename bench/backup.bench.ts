/**
 * The backup benchmark: an app's data backed up and restored through a real `archy daemon` (as the
 * test user, over a lab's Podman, real restic) against `restic` run by hand on the same directory,
 * in the same run, interleaved. The app is the backup tests' (test/fixtures/backup-app: stopped for
 * its backups); its volume holds `--mib` (1024) MiB of random bytes, so nothing dedupes or
 * compresses them away.
 *
 * Each round, into a repository new to it on each side (a new daemon target; a new repository by
 * hand), in an order that alternates:
 * - first backup: `archy backup APP --target T` (CLI start to exit: the operation, which stops the
 *   app, backs up, and lets it start again) against `restic backup DIR` by hand (as the test user,
 *   in its user namespace, like the daemon's restic). The app's stop time is read from the
 *   operation's log (`stopping` to `is stopped`).
 * - second backup with 1% of the bytes changed (overwritten in place): bytes added and time.
 * - restore of the first snapshot: `archy restore APP --snapshot ID --target T` (over the installed
 *   app: its data backed up first, then restored and moved into place) against `restic restore ID
 *   --target DIR` by hand.
 *
 *   node bench/backup.bench.ts [--mib 1024] [--rounds 2] [--target-ratio 1.2] [--json]
 *
 * Target: p50 (daemon first backup − the app's stop time) / p50 by hand ≤ --target-ratio. Run as
 * root, after `bin/archy doctor --fix` (the test user, restic).
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { BackupNode } from "../test/backup/support.ts";
import {
  benchArgs,
  EXIT_ERROR,
  EXIT_INTERRUPTED,
  EXIT_MISSED,
  EXIT_PASS,
  intOption,
  machine,
  ratioOption,
  round,
  stopOnSignal,
  summarize,
  table,
} from "./support.ts";

const log = (message: string) => process.stderr.write(`backup-bench: ${message}\n`);

type Step = "backup" | "second" | "restore";
type Side = "daemon" | "bare";
const STEPS: Record<Step, string> = {
  backup: "first backup",
  second: "second backup, 1% changed",
  restore: "restore",
};

async function benchmark(): Promise<number> {
  const { values, json } = benchArgs(
    ["mib", "rounds", "target-ratio"],
    "node bench/backup.bench.ts [--mib 1024] [--rounds 2] [--target-ratio 1.2] [--json]",
    log,
  );
  const params = {
    mib: intOption(values.mib, "mib", 1024),
    rounds: intOption(values.rounds, "rounds", 2),
    targetRatio: ratioOption(values["target-ratio"], 1.2),
  };
  const stop = stopOnSignal(log, "the current step");
  // Imported here so that a host without the test user is an error the benchmark reports.
  const { eventually, Lab } = await import("../test/support/driver.ts");
  const backupSupport = await import("../test/backup/support.ts");
  const { testUserDir } = backupSupport;
  const { runAsTestUser } = await import("../test/support/rootless.ts");
  const lab = await Lab.create();
  let node: BackupNode | undefined;
  let appId: string | undefined;
  try {
    const app = await lab.app("backup-app", {
      source: new URL("../test/fixtures/backup-app/", import.meta.url).pathname,
    });
    appId = app.id;
    node = await backupSupport.BackupNode.start(lab, "node");
    const on = node;
    const ok = async (args: string[]) => {
      const run = await on.cli(args, 3_600_000);
      if (run.code !== 0) throw new Error(`archy ${args.join(" ")} failed: ${run.stderr || run.stdout}`);
      return run;
    };
    const container = app.names.web as string;
    /** The app started again after a daemon step (not timed: the operation ends as it is let go). */
    const appRunning = () =>
      eventually(
        `${app.id} running again`,
        async () => ((await lab.inspect(container))?.running ? true : undefined),
        600_000,
      );
    await ok(["install", app.id]);
    log(`writing ${params.mib} MiB of random bytes into the app's volume`);
    await lab.exec(container, `head -c ${params.mib * 1024 * 1024} /dev/urandom > /data/blob.bin`);
    const volume = join(on.dataDir, "apps", app.id, "volumes", "data");
    const repos = testUserDir(join(lab.root, "repos"));
    const keyFile = join(testUserDir(join(lab.root, "by-hand")), "key");
    const cache = testUserDir(join(lab.root, "by-hand", "cache"));
    await runAsTestUser(["sh", "-c", `umask 077 && head -c 32 /dev/urandom | base64 > ${keyFile}`]);
    /** restic by hand, as the test user in its user namespace, JSON out. */
    const restic = async (repository: string, args: string[]) => {
      const run = await runAsTestUser(
        [
          "env",
          `RESTIC_REPOSITORY=${repository}`,
          `RESTIC_PASSWORD_FILE=${keyFile}`,
          `RESTIC_CACHE_DIR=${cache}`,
          "podman",
          "unshare",
          "restic",
          ...args,
        ],
        { timeoutMs: 3_600_000 },
      );
      if (run.code !== 0) throw new Error(`restic ${args[0]} failed: ${run.stderr.trim()}`);
      return run.stdout;
    };
    /** A backup by hand of the app's volume; the bytes it added to the repository. */
    const bareBackup = async (repository: string) => {
      const out = await restic(repository, ["backup", "--json", "--quiet", "--", volume]);
      return (JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { data_added?: number }).data_added ?? 0;
    };
    /** The last backup or restore operation of the app, from the daemon's store: its log's times. */
    const lastOperation = () => {
      const db = new DatabaseSync(join(on.dataDir, "state", "store.db"), { readOnly: true });
      try {
        const op = db
          .prepare("SELECT id FROM operations WHERE app_id = ? ORDER BY created_at DESC LIMIT 1")
          .get(app.id) as { id: string };
        const lines = db
          .prepare("SELECT at, message FROM operation_logs WHERE operation_id = ? ORDER BY seq")
          .all(op.id) as Array<{ at: number; message: string }>;
        const at = (pattern: RegExp) => lines.find((l) => pattern.test(l.message))?.at;
        const stopping = at(/^stopping .*containers$/);
        const stopped = at(/ is stopped$/);
        const added = /(\d+) bytes added$/.exec(
          lines.find((l) => / bytes added$/.test(l.message))?.message ?? "",
        );
        return {
          stopMs: stopping !== undefined && stopped !== undefined ? stopped - stopping : 0,
          added: Number(added?.[1] ?? 0),
        };
      } finally {
        db.close();
      }
    };
    const samples: Record<Step, Record<Side, number[]>> = {
      backup: { daemon: [], bare: [] },
      second: { daemon: [], bare: [] },
      restore: { daemon: [], bare: [] },
    };
    const stops: number[] = [];
    const added: Record<Side, number[]> = { daemon: [], bare: [] };
    const changedBytes = Math.max(1, Math.floor(params.mib * 1024 * 1024 * 0.01));
    for (let i = 0; i < params.rounds && !stop.requested; i++) {
      const target = `bench${i}`;
      const bareRepo = join(repos, `by-hand-${i}`);
      await ok(["backup", "targets", "add", target, join(repos, target)]);
      await restic(bareRepo, ["init"]);
      const order: Side[] = i % 2 === 0 ? ["daemon", "bare"] : ["bare", "daemon"];
      const timed = async (step: Step, side: Side, work: () => Promise<unknown>) => {
        const started = performance.now();
        await work();
        const ms = performance.now() - started;
        samples[step][side].push(ms);
        log(`round ${i + 1}/${params.rounds}: ${STEPS[step]}, ${side}: ${Math.round(ms)} ms`);
        if (side === "daemon") await appRunning();
      };
      for (const side of order)
        if (side === "daemon")
          await timed("backup", side, async () => {
            await ok(["backup", app.id, "--target", target]);
            stops.push(lastOperation().stopMs);
          });
        else await timed("backup", side, () => bareBackup(bareRepo));
      // 1% of the bytes overwritten in place, somewhere in the file (the same change for both sides).
      await lab.exec(
        container,
        `dd if=/dev/urandom of=/data/blob.bin bs=${changedBytes} count=1 seek=${(i * 37 + 11) % 90} conv=notrunc 2>/dev/null`,
      );
      for (const side of order)
        if (side === "daemon")
          await timed("second", side, async () => {
            await ok(["backup", app.id, "--target", target]);
            added.daemon.push(lastOperation().added);
          });
        else
          await timed("second", side, async () => {
            added.bare.push(await bareBackup(bareRepo));
          });
      const daemonFirst = (
        JSON.parse((await ok(["backups", app.id, "--target", target, "--json"])).stdout) as {
          snapshots: Array<{ id: string }>;
        }
      ).snapshots[0]?.id as string;
      const bareFirst = (
        JSON.parse(await restic(bareRepo, ["snapshots", "--json"])) as Array<{ id: string }>
      )[0]?.id as string;
      const restoreDir = join(lab.root, "by-hand", "restored");
      for (const side of order)
        await timed("restore", side, async () => {
          if (side === "daemon") await ok(["restore", app.id, "--snapshot", daemonFirst, "--target", target]);
          else {
            await restic(bareRepo, ["restore", "--target", restoreDir, "--", bareFirst]);
            await runAsTestUser(["podman", "unshare", "rm", "-rf", "--", restoreDir]);
          }
        });
    }
    if (stop.requested) return EXIT_INTERRUPTED;
    const p50 = (step: Step, side: Side) => summarize(samples[step][side]).p50;
    const stopP50 = summarize(stops).p50;
    const backupRatio = (p50("backup", "daemon") - stopP50) / p50("backup", "bare");
    const result = {
      benchmark: "backup",
      date: new Date().toISOString(),
      machine: machine(),
      params,
      steps: Object.fromEntries(
        (Object.keys(STEPS) as Step[]).map((step) => [
          step,
          {
            label: STEPS[step],
            daemon: round(p50(step, "daemon")),
            bare: round(p50(step, "bare")),
            ratio: round(p50(step, "daemon") / p50(step, "bare"), 3),
          },
        ]),
      ),
      appStopMs: round(stopP50),
      secondBackupBytesAdded: {
        daemon: summarize(added.daemon).p50,
        bare: summarize(added.bare).p50,
        changed: changedBytes,
      },
      ratio: round(backupRatio, 3),
      pass: backupRatio <= params.targetRatio,
    };
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      process.stdout.write(
        `${[
          `backup benchmark, ${result.date}: ${params.mib} MiB of random data in one app volume, ${params.rounds} interleaved rounds, real restic`,
          `${result.machine.cpus} CPUs (${result.machine.cpuModel}), node ${result.machine.node}, load ${result.machine.loadAverage}`,
          "",
          table(
            ["step", "daemon p50 ms", "by hand p50 ms", "daemon / by hand"],
            (Object.keys(STEPS) as Step[]).map((step) => [
              STEPS[step],
              p50(step, "daemon").toFixed(0),
              p50(step, "bare").toFixed(0),
              (p50(step, "daemon") / p50(step, "bare")).toFixed(2),
            ]),
          ),
          "",
          `the app's stop for its backup: p50 ${stopP50.toFixed(0)} ms`,
          `second backup, ${changedBytes} bytes changed: daemon added ${result.secondBackupBytesAdded.daemon} bytes, by hand ${result.secondBackupBytesAdded.bare}`,
          `target: (daemon first backup - app stop) p50 <= ${params.targetRatio} x restic backup p50: ${result.pass ? "PASS" : "FAIL"} (${result.ratio})`,
        ].join("\n")}\n`,
      );
    return result.pass ? EXIT_PASS : EXIT_MISSED;
  } finally {
    if (node) {
      if (appId) await node.cli(["uninstall", appId, "--purge"]).catch(() => undefined);
      await node.close();
    }
    await lab.close();
    log("clean");
  }
}

benchmark().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
