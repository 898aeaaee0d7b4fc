import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  expectIssue,
  expectIssueIn,
  expectValid,
  FIRST,
  issuesOf,
  MINIMAL,
  showIssues,
  withLines,
} from "../../test/support/manifest-text.ts";
import { parseManifest, STORED_MANIFEST_TOLERATED_RULES } from "./parse.ts";
import { checkSemantics } from "./semantics.ts";

/** A second container, `db`, as lines to append after containers.web. */
const DB = ["  db:", "    image: docker.io/library/postgres:16"];
/** Health timing that satisfies health.timing (see the note on duration defaults in parse.test.ts). */
const TIMING = "interval: 10s, timeout: 5s";

describe("checkSemantics", () => {
  test("is pure: a valid manifest gives no findings", () => {
    const { manifest } = expectValid(withLines(...DB));
    assert.deepEqual(checkSemantics(manifest), []);
  });
});

describe("schema.missing (no containers)", () => {
  test("an app with no container at all", () => {
    expectIssue(`${MINIMAL.slice(0, MINIMAL.indexOf("containers:"))}containers: {}\n`, {
      rule: "schema.missing",
      path: "containers",
      line: 6,
      column: 13,
      message: "at least one container",
      fix: "add a container under `containers`",
    });
  });
});

describe("ref.secret", () => {
  test("an environment reference to a misspelt secret", () => {
    expectIssue(
      withLines(
        "    environment:",
        "      PASSWORD: { secret: db-pasword }",
        "secrets:",
        "  db-password: {}",
      ),
      {
        rule: "ref.secret",
        path: "containers.web.environment.PASSWORD.secret",
        line: FIRST + 1,
        column: 27,
        message: 'secret "db-pasword" is not declared',
        fix: 'did you mean "db-password"?',
      },
    );
  });

  test("a credential when no secret is declared at all", () => {
    expectIssue(withLines("credentials:", "  - { label: Admin, secret: admin }"), {
      rule: "ref.secret",
      path: "credentials[0].secret",
      line: FIRST + 1,
      column: 29,
      fix: "declare it under `secrets`",
    });
  });

  test("a file secret with no close match lists the declared ones", () => {
    expectIssue(
      withLines("    secrets:", "      - { secret: api, target: /run/secrets/api }", "secrets:", "  key: {}"),
      {
        rule: "ref.secret",
        path: "containers.web.secrets[0].secret",
        line: FIRST + 1,
        column: 19,
        fix: "use one of: key",
      },
    );
  });

  test("an export of an undeclared secret", () => {
    expectIssue(withLines("exports:", "  password: { secret: nope }"), {
      rule: "ref.secret",
      path: "exports.password.secret",
      line: FIRST + 1,
      column: 23,
    });
  });

  test("passing: every reference declared", () => {
    expectValid(
      withLines(
        "    environment:",
        "      PASSWORD: { secret: db-password }",
        "    secrets:",
        "      - { secret: db-password, target: /run/secrets/db }",
        "secrets:",
        "  db-password: {}",
        "credentials:",
        "  - { label: Admin, secret: db-password }",
        "exports:",
        "  password: { secret: db-password }",
      ),
    );
  });
});

describe("ref.container", () => {
  test("depends_on names an unknown container: the key is marked", () => {
    expectIssue(withLines("    depends_on:", "      dbb: started", ...DB), {
      rule: "ref.container",
      path: "containers.web.depends_on.dbb",
      line: FIRST + 1,
      column: 7,
      message: 'container "dbb" is not declared',
      fix: 'did you mean "db"?',
    });
  });

  test("an export host", () => {
    expectIssue(withLines(...DB, "exports:", "  db-host: { host: dbb }"), {
      rule: "ref.container",
      path: "exports.db-host.host",
      line: FIRST + 3,
      column: 20,
      fix: 'did you mean "db"?',
    });
  });

  test("an interface container", () => {
    expectIssue(withLines("interfaces:", "  main: { container: wbe, port: 80 }"), {
      rule: "ref.container",
      path: "interfaces.main.container",
      line: FIRST + 1,
      column: 22,
      fix: 'did you mean "web"?',
    });
  });

  test("a hook step", () => {
    expectIssue(withLines("hooks:", "  post_install:", "    - exec: { container: wbe, command: [init] }"), {
      rule: "ref.container",
      path: "hooks.post_install[0].exec.container",
      line: FIRST + 2,
      column: 26,
      fix: 'did you mean "web"?',
    });
  });

  test("an adoption entry: the key is marked", () => {
    expectIssue(withLines("adoption:", "  containers:", "    wbe: [old-web]"), {
      rule: "ref.container",
      path: "adoption.containers.wbe",
      line: FIRST + 2,
      column: 5,
      fix: 'did you mean "web"?',
    });
  });

  test("passing: references to declared containers", () => {
    expectValid(
      withLines(
        "    depends_on: { db: started }",
        "    ports: [{ container: 80 }]",
        ...DB,
        "exports:",
        "  db-host: { host: db }",
        "interfaces:",
        "  main: { container: web, port: 80 }",
        "hooks:",
        "  post_install:",
        "    - exec: { container: web, command: [init] }",
        "adoption:",
        "  containers:",
        "    web: [old-web]",
      ),
    );
  });
});

describe("hook.pre_start", () => {
  test("an exec step, which would need a running container before a start", () => {
    expectIssue(withLines("hooks:", "  pre_start:", "    - exec: { container: web, command: [init] }"), {
      rule: "hook.pre_start",
      path: "hooks.pre_start[0].exec",
      line: FIRST + 2,
      column: 7,
      fix: "copy files with copy_from_host here (it works on stopped containers); run the command at the start of the container's own command, or in post_install",
    });
  });

  test("passing: copy_from_host before a start, exec after the install", () => {
    expectValid(
      withLines(
        "hooks:",
        "  pre_start:",
        "    - copy_from_host: { from: files/app.conf, container: web, to: /etc/app.conf }",
        "  post_install:",
        "    - exec: { container: web, command: [init] }",
      ),
    );
  });
});

describe("ref.dependency", () => {
  test("an export of an app that is not a dependency", () => {
    expectIssue(withLines("    environment:", "      RPC: { app: bitcoind, export: rpc-host }"), {
      rule: "ref.dependency",
      path: "containers.web.environment.RPC.app",
      line: FIRST + 1,
      column: 19,
      message: '"bitcoind" is not one of this app\'s dependencies',
      fix: "add { id: bitcoind } under `dependencies`",
    });
  });

  test("passing: the app is a dependency", () => {
    expectValid(
      withLines(
        "    environment:",
        "      RPC: { app: bitcoind, export: rpc-host }",
        "dependencies:",
        "  - id: bitcoind",
      ),
    );
  });
});

describe("ref.port", () => {
  test("an interface on a port the container does not list", () => {
    expectIssue(
      withLines("    ports: [{ container: 8080 }]", "interfaces:", "  main: { container: web, port: 80 }"),
      {
        rule: "ref.port",
        path: "interfaces.main.port",
        line: FIRST + 2,
        column: 33,
        message: "port 80 is not a tcp port of container web",
        fix: "containers.web.ports",
      },
    );
  });

  test("an interface on a udp port", () => {
    expectIssue(
      withLines(
        "    ports: [{ container: 80, protocol: udp }]",
        "interfaces:",
        "  main: { container: web, port: 80 }",
      ),
      {
        rule: "ref.port",
        path: "interfaces.main.port",
        line: FIRST + 2,
        column: 33,
      },
    );
  });

  test("passing: a tcp port of the container", () => {
    expectValid(
      withLines("    ports: [{ container: 8080 }]", "interfaces:", "  main: { container: web, port: 8080 }"),
    );
  });
});

describe("backup section", () => {
  test("backing up a volume no container mounts: the name is marked", () => {
    expectIssue(withLines("    volumes: [{ name: data, path: /data }]", "backup:", "  volumes: [dat]"), {
      rule: "ref.volume",
      path: "backup.volumes[0]",
      line: FIRST + 2,
      column: 13,
      message: 'app volume "dat" is not declared',
    });
  });

  test("a pre_backup step in a container the app does not have", () => {
    expectIssue(withLines("backup:", "  pre_backup:", "    - exec: { container: db, command: [pg_dump] }"), {
      rule: "ref.container",
      path: "backup.pre_backup[0].exec.container",
      line: FIRST + 2,
      column: 26,
    });
  });

  test("consistency hooks without a pre_backup step", () => {
    expectIssue(withLines("backup:", "  consistency: hooks"), {
      rule: "ref.backup-hook",
      path: "backup.consistency",
      line: FIRST + 1,
      column: 16,
      fix: "add a pre_backup exec step",
    });
  });

  test("passing: a volume, an exclude and a dump hook", () => {
    expectValid(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        "backup:",
        "  volumes: [data]",
        "  exclude: ['*.tmp']",
        "  consistency: hooks",
        "  pre_backup:",
        "    - exec: { container: web, command: [sh, -c, 'cp /data/db /data/db.dump'] }",
      ),
    );
  });
});

describe("ref.volume", () => {
  test("adopting a volume no container mounts: the key is marked", () => {
    expectIssue(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        "adoption:",
        "  volumes:",
        "    dta: legacy-data",
      ),
      {
        rule: "ref.volume",
        path: "adoption.volumes.dta",
        line: FIRST + 3,
        column: 5,
        message: 'app volume "dta" is not declared',
        fix: 'did you mean "data"?',
      },
    );
  });

  test("adopting a data path when there are no app volumes", () => {
    expectIssue(withLines("adoption:", "  data_paths:", "    data: /var/lib/archipelago/legacy/data"), {
      rule: "ref.volume",
      path: "adoption.data_paths.data",
      line: FIRST + 2,
      column: 5,
      fix: "mount a volume with this `name`",
    });
  });

  test("passing: adopting a mounted volume", () => {
    expectValid(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        "adoption:",
        "  volumes: { data: legacy-data }",
        "  data_paths: { data: /var/lib/archipelago/legacy/data }",
      ),
    );
  });
});

describe("cycle.depends-on", () => {
  test("a container that depends on itself", () => {
    expectIssue(withLines("    depends_on: { web: started }"), {
      rule: "cycle.depends-on",
      path: "containers.web.depends_on.web",
      line: FIRST,
      column: 19,
      message: "cannot depend on itself",
      fix: "remove web",
    });
  });

  test("two containers that wait for each other: the cycle is named", () => {
    expectIssue(withLines("    depends_on: { db: started }", ...DB, "    depends_on: { web: started }"), {
      rule: "cycle.depends-on",
      path: "containers.db.depends_on.web",
      line: FIRST + 3,
      column: 19,
      message: "web → db → web",
      fix: "remove one of these depends_on entries",
    });
  });

  test("passing: a chain without a cycle", () => {
    expectValid(
      withLines(
        "    depends_on: { db: started }",
        ...DB,
        "  cache:",
        "    image: docker.io/library/redis:7",
        "    depends_on: { db: started, web: started }",
      ),
    );
  });
});

describe("cycle.dependency", () => {
  test("an app that depends on itself", () => {
    expectIssue(withLines("dependencies:", "  - id: hello"), {
      rule: "cycle.dependency",
      path: "dependencies[0].id",
      line: FIRST + 1,
      column: 9,
      message: "cannot depend on itself",
      fix: "remove this dependency",
    });
  });

  test("passing: another app", () => {
    expectValid(withLines("dependencies:", "  - id: hello-db"));
  });
});

describe("clash.dependency", () => {
  test("a dependency listed twice", () => {
    expectIssue(withLines("dependencies:", "  - id: bitcoind", "  - id: bitcoind", "    version: '>=25'"), {
      rule: "clash.dependency",
      path: "dependencies[1].id",
      line: FIRST + 2,
      column: 9,
      message: "listed twice",
      fix: "keep one entry",
    });
  });
});

describe("naming.reserved", () => {
  test("an explicit container name in the platform's own names: its network unit", () => {
    expectIssue(withLines("    container_name: archy-fz-network"), {
      rule: "naming.reserved",
      path: "containers.web.container_name",
      line: FIRST,
      column: 21,
      message: "the container name archy-fz-network cannot be used: archy-… names are the platform's own",
      fix: "choose another container_name",
    });
  });

  test("an explicit container name of the daemon's own unit, or of a stack's generated form", () => {
    expectIssue(withLines("    container_name: archipelago"), {
      rule: "naming.reserved",
      path: "containers.web.container_name",
      line: FIRST,
      column: 21,
      message: "daemon's own systemd unit",
    });
    expectIssue(withLines("    container_name: other--web"), {
      rule: "naming.reserved",
      path: "containers.web.container_name",
      line: FIRST,
      column: 21,
      message: "form of generated container names",
    });
  });

  test("an id with '--', or in the platform's names", () => {
    expectIssue(MINIMAL.replace("id: hello", "id: hello--x"), {
      rule: "naming.reserved",
      path: "id",
      line: 2,
      column: 5,
      message: "an id cannot contain it",
      fix: "choose another id",
    });
    expectIssue(MINIMAL.replace("id: hello", "id: archy-hello"), {
      rule: "naming.reserved",
      path: "id",
      line: 2,
      column: 5,
    });
  });

  test("passing: ordinary names, and a stored manifest that predates the rule", () => {
    expectValid(withLines("    container_name: hello-web_1.x"));
    const stored = parseManifest(withLines("    container_name: archy-old"), "stored", {
      tolerate: STORED_MANIFEST_TOLERATED_RULES,
    });
    assert.ok(stored.ok, "an installed app keeps working after an upgrade that adds the rule");
  });
});

describe("clash.container-name", () => {
  test("two containers with the same container_name: the second name is marked", () => {
    expectIssue(withLines("    container_name: app", ...DB, "    container_name: app"), {
      rule: "clash.container-name",
      path: "containers.db.container_name",
      line: FIRST + 3,
      column: 21,
      message: "container name app is used twice (also at containers.web)",
      fix: "distinct `container_name`",
    });
  });

  test("an explicit name equal to another container's default name: the key is marked", () => {
    // `hello--db` is db's generated name, and also the form naming.reserved refuses.
    const issues = issuesOf(withLines("    container_name: hello--db", ...DB));
    expectIssueIn(issues, {
      rule: "clash.container-name",
      path: "containers.db",
      line: FIRST + 1,
      column: 3,
    });
    expectIssueIn(issues, {
      rule: "naming.reserved",
      path: "containers.web.container_name",
      line: FIRST,
      column: 21,
    });
  });

  test("a legacy name that is another container's name, whichever comes first", () => {
    expectIssue(withLines("    container_name: app", ...DB, "adoption:", "  containers:", "    db: [app]"), {
      rule: "clash.container-name",
      path: "adoption.containers.db[0]",
      line: FIRST + 5,
      column: 10,
      fix: "remove the legacy name",
    });
    expectIssue(withLines(...DB, "adoption:", "  containers:", "    web: [hello--db]"), {
      rule: "clash.container-name",
      path: "adoption.containers.web[0]",
      line: FIRST + 4,
      column: 11,
    });
  });

  test("one legacy name adopted by two containers", () => {
    expectIssue(withLines(...DB, "adoption:", "  containers:", "    web: [old]", "    db: [old]"), {
      rule: "clash.container-name",
      path: "adoption.containers.db[0]",
      line: FIRST + 5,
      column: 10,
    });
  });

  test("passing: distinct names, and a legacy name equal to the container's own", () => {
    expectValid(
      withLines(
        "    container_name: app",
        ...DB,
        "    container_name: app-db",
        "adoption:",
        "  containers:",
        "    web: [app, old-app]",
      ),
    );
  });
});

describe("clash.host-port", () => {
  test("the same host port twice", () => {
    expectIssue(
      withLines(
        "    ports:",
        "      - { container: 80, host: 8080 }",
        "      - { container: 81, host: 8080 }",
      ),
      {
        rule: "clash.host-port",
        path: "containers.web.ports[1].host",
        line: FIRST + 2,
        column: 32,
        message: "host port 8080/tcp is published twice (also at containers.web.ports[0])",
        fix: "different host port",
      },
    );
  });

  test("a wildcard bind overlaps a specific address, across containers", () => {
    expectIssue(
      withLines(
        "    ports: [{ container: 80, host: 8080, bind: 127.0.0.1 }]",
        ...DB,
        "    ports: [{ container: 81, host: 8080 }]",
      ),
      {
        rule: "clash.host-port",
        path: "containers.db.ports[0].host",
        line: FIRST + 3,
        column: 36,
      },
    );
  });

  test("passing: other protocol, other address, other port", () => {
    expectValid(
      withLines(
        "    ports:",
        "      - { container: 80, host: 8080, bind: 127.0.0.1 }",
        "      - { container: 81, host: 8080, bind: 127.0.0.2 }",
        "      - { container: 82, host: 8080, protocol: udp }",
        "      - { container: 83, host: 8081 }",
      ),
    );
  });
});

describe("clash.container-port", () => {
  test("the same container port twice", () => {
    expectIssue(
      withLines("    ports:", "      - { container: 80 }", "      - { container: 80, host: 8080 }"),
      {
        rule: "clash.container-port",
        path: "containers.web.ports[1].container",
        line: FIRST + 2,
        column: 22,
        message: "container port 80/tcp is listed twice",
        fix: "list each container port once",
      },
    );
  });

  test("passing: the same port number for tcp and udp", () => {
    expectValid(
      withLines("    ports:", "      - { container: 53 }", "      - { container: 53, protocol: udp }"),
    );
  });
});

describe("clash.alias", () => {
  test("an alias equal to another container's key", () => {
    expectIssue(withLines("    aliases: [db]", ...DB), {
      rule: "clash.alias",
      path: "containers.web.aliases[0]",
      line: FIRST,
      column: 15,
      message: "alias db is already a name on the app network (also at containers.db)",
      fix: "choose another alias",
    });
  });

  test("the same alias in two containers", () => {
    expectIssue(withLines("    aliases: [cache]", ...DB, "    aliases: [cache]"), {
      rule: "clash.alias",
      path: "containers.db.aliases[0]",
      line: FIRST + 3,
      column: 15,
    });
  });

  test("passing: distinct aliases, and an alias equal to the container's own key", () => {
    expectValid(withLines("    aliases: [web, frontend]", ...DB, "    aliases: [database]"));
  });
});

describe("clash.mount", () => {
  test("a tmpfs over a volume's mount point", () => {
    expectIssue(withLines("    volumes: [{ name: data, path: /data }]", "    tmpfs: [/data]"), {
      rule: "clash.mount",
      path: "containers.web.tmpfs[0]",
      line: FIRST + 1,
      column: 13,
      message: "/data is mounted twice in this container (also at containers.web.volumes[0].path)",
      fix: "mount each path once",
    });
  });

  test("a secret over a volume", () => {
    expectIssue(
      withLines(
        "    volumes: [{ name: data, path: /run/secrets/key }]",
        "    secrets: [{ secret: key, target: /run/secrets/key }]",
        "secrets:",
        "  key: {}",
      ),
      { rule: "clash.mount", path: "containers.web.secrets[0].target", line: FIRST + 1, column: 38 },
    );
  });

  test("passing: the same path in two containers", () => {
    expectValid(
      withLines(
        "    volumes: [{ name: data, path: /data }]",
        ...DB,
        "    volumes: [{ name: data, path: /data }]",
      ),
    );
  });
});

describe("health.depends-on", () => {
  test("waiting for a container without a health check to be healthy", () => {
    expectIssue(withLines("    depends_on: { db: healthy }", ...DB), {
      rule: "health.depends-on",
      path: "containers.web.depends_on.db",
      line: FIRST,
      column: 19,
      message: "waits for db to be healthy, but db has no health check",
      fix: "add a `health` check to containers.db, or use `started`",
    });
  });

  test("passing: the dependency has a health check", () => {
    expectValid(
      withLines(
        "    depends_on: { db: healthy }",
        ...DB,
        "    ports: [{ container: 5432 }]",
        `    health: { type: tcp, port: 5432, ${TIMING} }`,
      ),
    );
  });
});

describe("health.hook-wait", () => {
  test("a hook step waiting for a container without a health check", () => {
    expectIssue(withLines("hooks:", "  post_install:", "    - wait: { container: web }"), {
      rule: "health.hook-wait",
      path: "hooks.post_install[0].wait.container",
      line: FIRST + 2,
      column: 26,
      message: "waits for web to be healthy, but web has no health check",
      fix: "add a `health` check to containers.web",
    });
  });

  test("passing: the container has a health check", () => {
    expectValid(
      withLines(
        "    ports: [{ container: 80 }]",
        `    health: { type: tcp, port: 80, ${TIMING} }`,
        "hooks:",
        "  pre_purge:",
        "    - wait: { container: web, until: healthy, timeout: 2m }",
      ),
    );
  });
});

describe("jobs", () => {
  const MIGRATE = ["  migrate:", "    image: docker.io/library/postgres:16", "    job: true"];

  test("passing: a container waits for a job to complete", () => {
    expectValid(withLines("    depends_on: { migrate: completed }", ...MIGRATE));
  });

  test("job.depends-on: waiting for a container that is not a job to complete", () => {
    expectIssue(withLines("    depends_on: { db: completed }", ...DB), {
      rule: "job.depends-on",
      path: "containers.web.depends_on.db",
      line: FIRST,
      column: 19,
      message: "waits for db to complete, but db is not a job (it runs until stopped)",
      fix: "add `job: true` to containers.db, or use `started` or `healthy`",
    });
  });

  test("job.depends-on: waiting for a job to be running", () => {
    expectIssue(withLines("    depends_on: { migrate: started }", ...MIGRATE), {
      rule: "job.depends-on",
      path: "containers.web.depends_on.migrate",
      line: FIRST,
      column: 19,
      message: "migrate is a job: it exits once done, so being running is no state to wait for",
      fix: "use `migrate: completed`",
    });
  });

  test("job.health: a job with a health check", () => {
    expectIssue(withLines(...MIGRATE, '    health: { type: exec, command: ["true"] }'), {
      rule: "job.health",
      path: "containers.migrate.health",
      line: FIRST + 3,
      column: 5,
      message: "migrate is a job: it exits once done, so it has no health to probe",
      fix: "remove containers.migrate.health (containers that need it done use `depends_on: { migrate: completed }`)",
    });
  });

  test("job.serves: an interface or a hook's exec step in a job", () => {
    const text = withLines(
      ...MIGRATE,
      "    ports: [{ container: 80 }]",
      "interfaces:",
      "  ui: { container: migrate, port: 80 }",
      "hooks:",
      "  post_install:",
      '    - exec: { container: migrate, command: ["true"] }',
    );
    expectIssue(text, {
      rule: "job.serves",
      path: "interfaces.ui.container",
      line: FIRST + 5,
      column: 20,
      message: "migrate is a job: it exits once done, so it cannot serve an interface",
      fix: "serve the interface from a container that keeps running",
    });
    expectIssue(text, {
      rule: "job.serves",
      path: "hooks.post_install[0].exec.container",
      line: FIRST + 8,
      column: 26,
      message: "migrate is a job: it is not running once done, so a hook step cannot run in it",
      fix: "run the step in a container that keeps running, or make it part of the job's command",
    });
  });
});

describe("health.timing", () => {
  const health = (timing: string) =>
    withLines("    ports: [{ container: 80 }]", `    health: { type: tcp, port: 80, ${timing} }`);

  test("a timeout as long as the interval", () => {
    expectIssue(health("interval: 5s, timeout: 5s"), {
      rule: "health.timing",
      path: "containers.web.health.timeout",
      line: FIRST + 1,
      column: 59,
      message: "timeout (5000 ms) must be shorter than interval (5000 ms)",
      fix: "lower `timeout` or raise `interval`",
    });
  });

  test("an interval under a second", () => {
    expectIssue(health("interval: 500ms, timeout: 200ms"), {
      rule: "health.timing",
      path: "containers.web.health.interval",
      line: FIRST + 1,
      column: 46,
      fix: "1s or more",
    });
  });

  test("a timeout under 100 ms", () => {
    expectIssue(health("interval: 10s, timeout: 50ms"), {
      rule: "health.timing",
      path: "containers.web.health.timeout",
      line: FIRST + 1,
      column: 60,
      message: "under 100 ms",
    });
  });

  test("an interval or a timeout written alone: the default of the other follows it", () => {
    const timing = (written: string) => {
      const container = expectValid(health(written)).manifest.containers.web;
      return { interval: container?.health?.interval, timeout: container?.health?.timeout };
    };
    assert.deepEqual(timing("interval: 5s"), { interval: 5000, timeout: 2500 });
    assert.deepEqual(timing("interval: 1s"), { interval: 1000, timeout: 500 });
    assert.deepEqual(timing("timeout: 20s"), { interval: 40_000, timeout: 20_000 });
    assert.deepEqual(timing("interval: 30s"), { interval: 30_000, timeout: 5000 });
    assert.deepEqual(timing("timeout: 2s"), { interval: 10_000, timeout: 2000 });
    assert.deepEqual(timing("start_period: 1s"), { interval: 10_000, timeout: 5000 });
  });

  test("passing: sensible timing", () => {
    expectValid(health(TIMING));
    expectValid(health("interval: 1s, timeout: 100ms"));
  });
});

describe("health.port", () => {
  test("an http check on a port the container does not list", () => {
    expectIssue(withLines(`    health: { type: http, port: 8080, ${TIMING} }`), {
      rule: "health.port",
      path: "containers.web.health.port",
      line: FIRST,
      column: 33,
      message: "port 8080 is not a tcp port of this container",
      fix: "add { container: 8080 } to containers.web.ports",
    });
  });

  test("passing: the port is listed; an exec check needs no port", () => {
    expectValid(
      withLines(
        "    ports: [{ container: 8080 }]",
        `    health: { type: http, port: 8080, path: /healthz, ${TIMING} }`,
      ),
    );
    expectValid(withLines(`    health: { type: exec, command: [check], ${TIMING} }`));
  });
});

describe("limits.hook-timeout", () => {
  test("a hook step whose timeout ends it before it can start", () => {
    expectIssue(
      withLines(
        "hooks:",
        "  post_install:",
        "    - exec: { container: web, command: [/bin/true], timeout: 0 }",
      ),
      {
        rule: "limits.hook-timeout",
        path: "hooks.post_install[0].exec.timeout",
        line: FIRST + 2,
        column: 62,
        fix: "use at least 1s",
      },
    );
  });

  test("passing: 1s, and the default", () => {
    expectValid(
      withLines(
        "hooks:",
        "  post_install:",
        "    - exec: { container: web, command: [/bin/true], timeout: 1s }",
        "    - exec: { container: web, command: [/bin/true] }",
      ),
    );
  });
});

describe("limits.memory", () => {
  test("a memory limit too small to start", () => {
    expectIssue(withLines("    memory: 1m"), {
      rule: "limits.memory",
      path: "containers.web.memory",
      line: FIRST,
      column: 13,
      fix: "at least 6m",
    });
  });

  test("passing: 6m", () => {
    expectValid(withLines("    memory: 6m"));
  });
});

describe("limits.stop-timeout", () => {
  test("a stop timeout over ten minutes", () => {
    expectIssue(withLines("    stop_timeout: 11m"), {
      rule: "limits.stop-timeout",
      path: "containers.web.stop_timeout",
      line: FIRST,
      column: 19,
      fix: "at most 10m",
    });
  });

  test("a stop timeout of 0: Podman would SIGKILL at once, never sending the stop signal", () => {
    for (const value of ["0", "0s", "0ms", '"0m"'])
      expectIssue(withLines(`    stop_timeout: ${value}`), {
        rule: "limits.stop-timeout",
        path: "containers.web.stop_timeout",
        line: FIRST,
        column: 19,
        message: "kills the container at once with SIGKILL, without sending its stop signal",
        fix: "use at least 1s",
      });
  });

  test("passing: ten minutes, one second, half a second (rounded up to 1s by the runtime)", () => {
    expectValid(withLines("    stop_timeout: 10m"));
    expectValid(withLines("    stop_timeout: 1"));
    expectValid(withLines("    stop_timeout: 500ms"));
  });
});

describe("limits.stop-signal", () => {
  test("SIGKILL and SIGSTOP cannot be caught: refused, with stop_timeout to bound the wait", () => {
    for (const [signal, how] of [
      ["SIGKILL", "it is killed at once"],
      ["SIGSTOP", "it is frozen"],
    ] as const)
      expectIssue(withLines(`    stop_signal: ${signal}`), {
        rule: "limits.stop-signal",
        path: "containers.web.stop_signal",
        line: FIRST,
        column: 18,
        message: `${signal} cannot be caught, so the process gets no chance to stop cleanly (${how}`,
        fix: "`stop_timeout` bounds how long a stop waits before SIGKILL",
      });
  });

  test("passing: signals a process can handle", () => {
    expectValid(withLines("    stop_signal: SIGTERM", "    stop_timeout: 30s"));
    expectValid(withLines("    stop_signal: SIGQUIT"));
  });
});

describe("limits.data-uid", () => {
  test("a container with a user and volumes but no data_uid: the container is marked", () => {
    expectIssue(withLines('    user: "1000:1000"', "    volumes: [{ name: data, path: /data }]"), {
      rule: "limits.data-uid",
      path: "containers.web.data_uid",
      line: 7,
      column: 3,
      message: "runs as 1000:1000",
      fix: "add data_uid: 1000",
    });
  });

  test("passing: data_uid given, or no volumes", () => {
    expectValid(
      withLines('    user: "1000"', "    data_uid: 1000", "    volumes: [{ name: data, path: /data }]"),
    );
    expectValid(withLines('    user: "1000"'));
  });
});

describe("schema.format (semver ranges)", () => {
  test("a dependency version that is not a range", () => {
    expectIssue(withLines("dependencies:", "  - id: bitcoind", "    version: not a range"), {
      rule: "schema.format",
      path: "dependencies[0].version",
      line: FIRST + 2,
      column: 14,
      message: '"not a range" is not a semver range',
      fix: ">=1.2.0 <2.0.0",
    });
  });

  test("passing: ranges", () => {
    for (const range of ["'*'", "^1.2", "'>=25.0.0 <30'", "1.x", "~2.1.0"])
      expectValid(withLines("dependencies:", "  - id: bitcoind", `    version: ${range}`));
  });
});

test("semantic issues come sorted by position", () => {
  const issues = issuesOf(
    withLines("    memory: 1m", "    depends_on: { web: started }", "    stop_timeout: 11m"),
  );
  const positions = issues.map((i) => i.line * 1000 + i.column);
  assert.deepEqual(
    positions,
    [...positions].sort((a, b) => a - b),
    showIssues(issues),
  );
});
