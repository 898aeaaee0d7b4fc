/**
 * `archy catalog` as a publisher meets it: bad input gets a clear error naming the file and the fix,
 * and changes nothing; keys are 0600 or sealed, and secrets never reach the output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { manifestText } from "./support.ts";

const archy = fileURLToPath(new URL("../../bin/archy", import.meta.url));
let base: string;

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(archy, args, {
    encoding: "utf8",
    env: { ...process.env, ARCHY_CATALOG_PASSPHRASE: "", ...env },
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

/** Every file under a directory with its content: what "nothing changed" compares. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[path] = readFileSync(path, "base64");
    }
  };
  walk(dir);
  return files;
}

function app(id: string, version: string, text = manifestText(id, version)): string {
  const dir = join(base, "apps", `${id}-${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.yml"), text);
  return dir;
}

before(() => {
  base = mkdtempSync(join(tmpdir(), "archy-catalog-cli-"));
});
after(() => rmSync(base, { recursive: true, force: true }));

describe("archy catalog", () => {
  test("refusals name the file and the fix, and change nothing", () => {
    const repo = join(base, "refusals");
    assert.equal(run(["catalog", "init", repo]).code, 0);
    assert.equal(run(["catalog", "add", repo, app("alpha", "1.0.0")]).code, 0);
    const before = snapshot(repo);

    const invalid = run([
      "catalog",
      "add",
      repo,
      app("beta", "1.0.0", manifestText("beta", "1.0.0").replace("name: App beta", "name: 42\nnmae: x")),
    ]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.out, /manifest\.yml:\d+:\d+: nmae: .*\n\s+fix: /);
    assert.match(invalid.out, /the manifest is invalid: fix it .*nothing was added/);

    const notNewer = run(["catalog", "add", repo, app("alpha", "1.0.0")]);
    assert.equal(notNewer.code, 1);
    assert.match(
      notNewer.out,
      /alpha 1\.0\.0 is not newer than 1\.0\.0, which the catalog has: raise `version` in its manifest\.yml/,
    );

    // One good app and one refused in the same call: neither is added.
    const mixed = run(["catalog", "add", repo, app("gamma", "1.0.0"), app("alpha", "0.9.0")]);
    assert.equal(mixed.code, 1);

    const wrongRole = run(["catalog", "sign", repo, "--role", "nope"]);
    assert.equal(wrongRole.code, 1);
    assert.match(wrongRole.out, /no role nope: the roles are root, targets, snapshot, timestamp/);

    const unready = run(["catalog", "publish", repo, join(base, "unready-out")]);
    assert.equal(unready.code, 1);
    assert.match(unready.out, /not ready to publish:\n\s+targets: needs 1 valid signature/);
    assert.deepEqual(snapshot(repo), before, "nothing changed in the catalog directory");
  });

  test("sealed keys: signing needs the passphrase, which is never printed; readable keys are refused", () => {
    const repo = join(base, "sealed");
    const passphrase = "a passphrase nobody should see";
    const init = run(["catalog", "init", repo, "--encrypt"], { ARCHY_CATALOG_PASSPHRASE: passphrase });
    assert.equal(init.code, 0, init.out);
    for (const name of readdirSync(join(repo, "keys"))) {
      const file = join(repo, "keys", name);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(readFileSync(file, "utf8"), /scrypt-aes-256-gcm/);
      assert.doesNotMatch(readFileSync(file, "utf8"), /PRIVATE KEY/);
    }
    assert.equal(run(["catalog", "add", repo, app("alpha", "1.0.0")]).code, 0);
    const locked = run(["catalog", "sign", repo]);
    assert.equal(locked.code, 1);
    assert.match(locked.out, /not signed: targets: its keys are encrypted .*set ARCHY_CATALOG_PASSPHRASE/);
    const wrong = run(
      [
        "catalog",
        "sign",
        repo,
        "--role",
        "targets",
        "--key",
        join(repo, "keys", readdirSync(join(repo, "keys")).find((n) => n.startsWith("targets-")) as string),
      ],
      { ARCHY_CATALOG_PASSPHRASE: "wrong" },
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /wrong passphrase/);
    const signed = run(["catalog", "sign", repo], { ARCHY_CATALOG_PASSPHRASE: passphrase });
    assert.equal(signed.code, 0, signed.out);
    for (const output of [init.out, locked.out, wrong.out, signed.out])
      assert.ok(!output.includes(passphrase));

    const targetsKey = readdirSync(join(repo, "keys")).find((n) => n.startsWith("targets-")) as string;
    chmodSync(join(repo, "keys", targetsKey), 0o644);
    const readable = run(["catalog", "sign", repo, "--role", "targets"], {
      ARCHY_CATALOG_PASSPHRASE: passphrase,
    });
    assert.equal(readable.code, 1);
    assert.match(readable.out, /can be read by others \(mode 644\): chmod 600 /);
  });

  test("publish never replaces a published file with other content; verify finds a damaged catalog", () => {
    const repo = join(base, "published");
    const out = join(base, "published-out");
    assert.equal(run(["catalog", "init", repo]).code, 0);
    assert.equal(run(["catalog", "add", repo, app("alpha", "1.0.0")]).code, 0);
    assert.equal(run(["catalog", "sign", repo]).code, 0);
    assert.equal(run(["catalog", "publish", repo, out]).code, 0);
    const verified = run(["catalog", "verify", out]);
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /alpha\s+1\.0\.0\s+targets/);

    const snapshotFile = join(
      out,
      "metadata",
      readdirSync(join(out, "metadata")).find((n) => /^\d+\.snapshot\.json$/.test(n)) as string,
    );
    // Same length, other bytes: only the hash in timestamp.json tells.
    writeFileSync(snapshotFile, `${readFileSync(snapshotFile, "utf8").trimEnd()} `);
    const damaged = run(["catalog", "verify", out]);
    assert.equal(damaged.code, 1);
    assert.match(damaged.out, /is not valid: metadata files do not belong together/);
    const again = run(["catalog", "publish", repo, out]);
    assert.equal(again.code, 1);
    assert.match(
      again.out,
      /snapshot\.json was already published with other content, and published files are never replaced/,
    );
    assert.ok(
      !readdirSync(out).some((n) => n.startsWith(".staging-")),
      "no staging directory is left behind",
    );
  });
});
