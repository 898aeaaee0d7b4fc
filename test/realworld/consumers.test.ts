// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests write their references as ${namespace:name}
/**
 * Per-consumer provisioning with the real PostgreSQL 15 of apps-real/ (its `consumers` section),
 * through the orchestrator on real Podman: two dependents, each a psql client whose connection
 * comes from `${consumer:rw-postgres/…}`, get a role and a database of their own with different
 * generated passwords. Each logs in with its own and not with the other's, nor into the other's
 * database; an uninstall and install again keeps the password (provision runs again on what it
 * made); a purge removes the consumer's role and database and leaves the other's; a purge whose
 * deprovision cannot run stops, named, and removes nothing.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocument, type YAMLSeq } from "yaml";
import { consumerName, pairSecretFile } from "../../src/manifest/consumers.ts";
import { type Driver, Lab, type TestApp } from "../support/driver.ts";
import { buildRealImages, REAL_APPS, realImagesSkip as skip } from "../support/real-images.ts";
import { runAsTestUser } from "../support/rootless.ts";

/** A dependent of rw-postgres that only holds a psql client, connected by its consumer values. */
const consumerManifest = (id: string) => `manifest: 1
id: ${id}
version: 1.0.0
name: ${id}
description: A psql client with an account of its own in rw-postgres.
dependencies:
  - { id: rw-postgres, state: healthy }
containers:
  client:
    image: localhost/archy-real/postgres:1
    user: "65534:65534"
    init: true
    entrypoint: [sleep, infinity]
    environment:
      PGHOST: "\${export:rw-postgres/host}"
      PGUSER: "\${consumer:rw-postgres/name}"
      PGDATABASE: "\${consumer:rw-postgres/name}"
      PGPASSWORD: "\${consumer:rw-postgres/password}"
    secrets:
      - { app: rw-postgres, consumer: password, target: /run/secrets/db-password }
`;

const PRINTS = 'echo "given $ARCHY_CONSUMER_PASSWORD"';

describe("real Podman: each dependent gets its own PostgreSQL role, database and password", { skip }, () => {
  let lab: Lab;
  let driver: Driver;
  let postgres: TestApp;
  let one: TestApp;
  let two: TestApp;

  async function succeeded(call: Promise<{ operationId: string }>, what: string) {
    const record = await driver.operationDone((await call).operationId, 600_000);
    assert.equal(record.operation?.state, "succeeded", `${what}: ${JSON.stringify(record.operation)}`);
    return record;
  }
  const install = (app: TestApp) => succeeded(driver.call("install", { path: app.dir }), `install ${app.id}`);

  /** The password `app` holds as rw-postgres's consumer (its secret file). */
  async function passwordOf(app: TestApp): Promise<string> {
    const value = (await lab.secretFiles(app))[pairSecretFile(postgres.id, "password")];
    assert.ok(value && value.length === 32, `${app.id} holds a generated password`);
    return value;
  }

  /**
   * psql in `app`'s client as it is configured, with `overrides` (PGPASSWORD, PGDATABASE) read from
   * stdin, so that no password is in an argument.
   */
  function psql(app: TestApp, sql: string, overrides: Record<string, string> = {}) {
    const names = Object.keys(overrides);
    const reads = names.map((n) => `IFS= read -r ${n}; export ${n};`).join(" ");
    return runAsTestUser(
      [
        "podman",
        "--url",
        `unix://${lab.service.socketPath}`,
        "exec",
        "-i",
        app.names.client as string,
        "/bin/sh",
        "-c",
        `${reads} exec psql -v ON_ERROR_STOP=1 -tAc "$0"`,
        sql,
      ],
      { input: names.map((n) => `${overrides[n]}\n`).join(""), timeoutMs: 60_000 },
    );
  }

  /** The roles and databases of the consumers' names that the cluster has, as the superuser sees them. */
  async function accounts(): Promise<string> {
    const names = [one, two].map((app) => `'${consumerName(app.id)}'`).join(", ");
    const result = await runAsTestUser(
      [
        "podman",
        "--url",
        `unix://${lab.service.socketPath}`,
        "exec",
        postgres.names.db as string,
        "psql",
        "--host=/tmp",
        "--username=postgres",
        "-tAc",
        `SELECT 'role ' || rolname FROM pg_roles WHERE rolname IN (${names}) UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datname IN (${names}) ORDER BY 1`,
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim();
  }

  before(async () => {
    await buildRealImages();
    lab = await Lab.create();
    driver = await lab.driver();
    postgres = await lab.app("rw-postgres", { source: join(REAL_APPS, "rw-postgres"), ownTimings: true });
    // A step that prints the consumer's password, as a careless one might: the log shows it masked.
    await lab.editManifest(postgres, (doc) => {
      const provision = doc.getIn(["consumers", "provision"]) as YAMLSeq;
      provision.add(
        parseDocument(JSON.stringify({ exec: { container: "db", command: ["/bin/sh", "-c", PRINTS] } }))
          .contents,
      );
    });
    const source = (name: string) => {
      const dir = join(lab.root, "sources", name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "manifest.yml"), consumerManifest(name));
      return dir;
    };
    one = await lab.app("rw-consumer-one", { source: source("rw-consumer-one") });
    two = await lab.app("rw-consumer-two", { source: source("rw-consumer-two") });
  });

  after(async () => {
    for (const app of [one, two, postgres])
      if (app && (await driver?.app(app.id)))
        await driver.call("uninstall", { app: app.id, purge: true, force: true }).catch(() => {});
    await lab?.close();
  });

  test("two dependents: different passwords, each logs in with its own only, purge removes one account", async () => {
    await install(postgres);
    const first = await install(one);
    await install(two);
    const provisioned = first.logs.map((l) => l.message);
    assert.ok(
      provisioned.some(
        (m) => m === `provisioning the account of ${one.id} (${consumerName(one.id)}) in ${postgres.id}`,
      ),
      provisioned.join("\n"),
    );
    assert.equal(
      await accounts(),
      [one, two]
        .flatMap((app) => [`database ${consumerName(app.id)}`])
        .concat([one, two].map((app) => `role ${consumerName(app.id)}`))
        .sort()
        .join("\n"),
    );

    const [passwordOne, passwordTwo] = [await passwordOf(one), await passwordOf(two)];
    assert.notEqual(passwordOne, passwordTwo, "each pair has its own password");
    const masked = `consumers.provision step 3: given [secret ${one.id}/${pairSecretFile(postgres.id, "password")}]`;
    assert.ok(provisioned.includes(masked), provisioned.join("\n"));
    assert.ok(!provisioned.some((m) => m.includes(passwordOne)), "the password is in no log line");

    // Each logs in with what it was given.
    for (const app of [one, two]) {
      const own = await psql(app, "SELECT current_user || '@' || current_database()");
      assert.equal(own.code, 0, own.stderr);
      assert.equal(own.stdout.trim(), `${consumerName(app.id)}@${consumerName(app.id)}`);
    }
    // The password as a file too, readable by the client's user, and good for a login.
    for (const app of [one, two]) {
      const file = await runAsTestUser(
        [
          "podman",
          "--url",
          `unix://${lab.service.socketPath}`,
          "exec",
          app.names.client as string,
          "/bin/sh",
          "-c",
          'test "$(cat /run/secrets/db-password)" = "$PGPASSWORD" && PGPASSWORD="$(cat /run/secrets/db-password)" exec psql -tAc "SELECT current_user"',
        ],
        { timeoutMs: 60_000 },
      );
      assert.equal(file.code, 0, file.stderr);
      assert.equal(file.stdout.trim(), consumerName(app.id));
    }
    // Not with the other's password, and not into the other's database.
    const wrongPassword = await psql(one, "SELECT 1", { PGPASSWORD: passwordTwo });
    assert.notEqual(wrongPassword.code, 0);
    assert.match(wrongPassword.stderr, /password authentication failed/);
    const otherDatabase = await psql(one, "SELECT 1", { PGDATABASE: consumerName(two.id) });
    assert.notEqual(otherDatabase.code, 0);
    assert.match(otherDatabase.stderr, /permission denied for database/);

    // Uninstalled and installed again: the same password, and provision ran again on what it made.
    await succeeded(driver.call("uninstall", { app: one.id }), `uninstall ${one.id}`);
    await install(one);
    assert.equal(await passwordOf(one), passwordOne, "the pair's password is kept across a reinstall");
    const again = await psql(one, "SELECT current_user");
    assert.equal(again.code, 0, again.stderr);

    // The purge removes two's role and database, and leaves one's, which still logs in.
    const purged = await succeeded(driver.call("uninstall", { app: two.id, purge: true }), `purge ${two.id}`);
    assert.ok(
      purged.logs.some(
        (l) =>
          l.message === `deprovisioning the account of ${two.id} (${consumerName(two.id)}) in ${postgres.id}`,
      ),
      purged.logs.map((l) => l.message).join("\n"),
    );
    assert.equal(await accounts(), `database ${consumerName(one.id)}\nrole ${consumerName(one.id)}`);
    assert.deepEqual(await lab.secretFiles(two), {}, "the purge deleted two's values");
    const still = await psql(one, "SELECT current_user");
    assert.equal(still.code, 0, still.stderr);
    assert.equal(still.stdout.trim(), consumerName(one.id));

    // A purge whose deprovision cannot run (PostgreSQL stopped) stops, saying why, and removes nothing;
    // once PostgreSQL runs again, purging again removes the account.
    await succeeded(driver.call("stop", { app: postgres.id }), `stop ${postgres.id}`);
    const refused = await driver.operationDone(
      (await driver.call<{ operationId: string }>("uninstall", { app: one.id, purge: true })).operationId,
      300_000,
    );
    assert.equal(refused.operation?.state, "failed", JSON.stringify(refused.operation));
    const error = refused.operation?.error ?? "";
    assert.match(error, new RegExp(`^${postgres.id}, for ${one.id}: consumers\\.deprovision step 1: `));
    assert.match(error, /the purge stopped before anything was removed/);
    assert.ok(error.includes(`archy uninstall ${one.id} --purge --force`), error);
    assert.equal(await passwordOf(one), passwordOne, "its values are still there");
    await succeeded(driver.call("start", { app: postgres.id }), `start ${postgres.id}`);
    await succeeded(driver.call("uninstall", { app: one.id, purge: true }), `purge ${one.id}`);
    assert.equal(await accounts(), "");
  });
});
