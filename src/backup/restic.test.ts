import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  backupArgs,
  lastWords,
  parseBackupLine,
  parseForget,
  parseSnapshots,
  progressOf,
  ResticError,
  resticEnv,
} from "./restic.ts";

describe("restic arguments and environment", () => {
  test("the key reaches restic only as a file in the environment, never on its command line", () => {
    const env = resticEnv(
      { location: "/mnt/b", keyFile: "/d/backup/targets/t/key", env: { AWS_ACCESS_KEY_ID: "A" } },
      "/d/backup/cache",
    );
    assert.equal(env.RESTIC_PASSWORD_FILE, "/d/backup/targets/t/key");
    assert.equal(env.RESTIC_PASSWORD, undefined);
    assert.equal(env.RESTIC_CACHE_DIR, "/d/backup/cache");
    assert.equal(env.AWS_ACCESS_KEY_ID, "A");
    const argv = backupArgs({
      paths: ["/d/apps/x/volumes/data"],
      tags: ["app:x"],
      excludes: ["*.tmp"],
      host: "h",
    });
    assert.deepEqual(argv, [
      "backup",
      "--json",
      "--host",
      "h",
      "--tag",
      "app:x",
      "--exclude",
      "*.tmp",
      "--",
      "/d/apps/x/volumes/data",
    ]);
    assert.ok(!argv.some((arg) => arg.includes("key") || arg.startsWith("--password")));
  });

  test("paths that look like options stay paths (after --)", () => {
    const argv = backupArgs({ paths: ["--password=x"], tags: [], excludes: [], host: "h" });
    assert.equal(argv.indexOf("--"), argv.length - 2);
  });
});

describe("restic's JSON output", () => {
  test("status lines become progress: files, bytes, time left", () => {
    const line = parseBackupLine(
      '{"message_type":"status","percent_done":0.5,"total_files":4,"files_done":2,"total_bytes":1000,"bytes_done":500,"seconds_remaining":3}',
    );
    assert.equal(line.message_type, "status");
    if (line.message_type !== "status") return;
    assert.deepEqual(progressOf(line), {
      percent: 50,
      filesDone: 2,
      totalFiles: 4,
      bytesDone: 500,
      totalBytes: 1000,
      secondsRemaining: 3,
    });
  });

  test("the summary, as restic 0.14 prints it", () => {
    const line = parseBackupLine(
      '{"message_type":"summary","files_new":2,"files_changed":0,"files_unmodified":0,"dirs_new":2,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":2,"tree_blobs":3,"data_added":101401,"total_files_processed":2,"total_bytes_processed":100003,"total_duration":0.3,"snapshot_id":"642b06fe"}',
    );
    assert.equal(line.message_type === "summary" && line.snapshot_id, "642b06fe");
  });

  test("text or an unknown message is an error, never guessed at", () => {
    assert.throws(() => parseBackupLine("Files: 2 new"), ResticError);
    assert.throws(
      () => parseBackupLine('{"message_type":"summary","snapshot_id":"x"}'),
      /unexpected message/,
    );
  });

  test("snapshots: a list (or null for none); a wrong id is refused", () => {
    const id = "a".repeat(64);
    const list = parseSnapshots(
      `[{"time":"2026-12-07T13:50:36Z","paths":["/d"],"id":"${id}","short_id":"aaaaaaaa","tags":["app:x"]}]`,
    );
    assert.equal(list[0]?.id, id);
    assert.deepEqual(parseSnapshots("null"), []);
    assert.throws(() => parseSnapshots('[{"id":"../x","short_id":"x","time":"t","paths":[]}]'), ResticError);
  });

  test("forget: the removed snapshots are counted from its JSON line, prune's text after it ignored", () => {
    const out = `[{"host":"archipelago","keep":[{"id":"k"}],"remove":[{"id":"a"},{"id":"b"}]},{"host":"h","keep":[],"remove":null}]
loading indexes...
[0:00] 100.00%  1 / 1 snapshots
done
`;
    assert.equal(parseForget(out), 2);
    assert.throws(() => parseForget("loading indexes...\n"), /did not print its JSON summary/);
    assert.throws(() => parseForget('[{"remove":"all"}]\n'), /unexpected summary/);
  });

  test("restic's reason for failing is its Fatal line", () => {
    assert.equal(lastWords("Fatal: wrong password or no key found\n"), "wrong password or no key found");
    assert.equal(
      lastWords(
        "Fatal: unable to open config file: stat /x/config: no such file or directory\nIs there a repository at the following location?\n/x\n",
      ),
      "unable to open config file: stat /x/config: no such file or directory",
    );
  });
});
