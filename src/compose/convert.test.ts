// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files write their variables as ${NAME}
/** The importer's pure parts over small compose projects held in memory. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { importFiles, shown } from "../../test/support/compose-import.ts";
import { parseEnvFile } from "../manifest/env-file.ts";
import { SERVICE_KEY_HANDLING } from "./service-keys.ts";
import { SERVICE_KEYS } from "./spec.ts";

function ok(files: Record<string, string>, options?: Parameters<typeof importFiles>[1]) {
  const result = importFiles(files, options);
  assert.ok(result.ok, result.ok ? "" : shown(result.lines).join("\n"));
  assert.ok(result.valid, `the manifest does not validate:\n${result.issues.join("\n")}\n${result.text}`);
  return result;
}
const container = (result: ReturnType<typeof ok>, key: string) =>
  result.manifest.containers[key] as Record<string, unknown>;
const lines = (result: ReturnType<typeof ok>, level: string) =>
  shown(result.lines.filter((l) => l.level === level));

describe("compose import: bad input is refused at its line, with the fix", () => {
  const refused = (files: Record<string, string>, pattern: RegExp) => {
    const result = importFiles(files);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(shown(result.lines).join("\n"), pattern);
  };
  test("not YAML", () =>
    refused({ "compose.yml": "services:\n  web: [\n" }, /error compose\.yml:3 \(file\): YAML/));
  test("YAML that is not a compose file", () => {
    refused({ "compose.yml": "- a\n- b\n" }, /not a compose file: it is not a YAML mapping/);
    refused(
      { "compose.yml": "name: x\nimage: nginx\n" },
      /not a compose file: it has no `services` \(its keys: name, image\)/,
    );
  });
  test("an unknown service key, with the key it probably is", () =>
    refused(
      { "compose.yml": "services:\n  web:\n    image: nginx\n    enviroment:\n      A: 1\n" },
      /error compose\.yml:4 services\.web\.enviroment: unknown key `enviroment`/,
    ));
  test("a value of the wrong type", () =>
    refused(
      { "compose.yml": "services:\n  web:\n    image: nginx\n    cap_add: NET_ADMIN\n" },
      /compose\.yml:4 services\.web\.cap_add: "NET_ADMIN" is not what/,
    ));
  test("a missing env file, named where the compose file names it", () =>
    refused(
      { "compose.yml": "services:\n  web:\n    image: nginx\n    env_file: [settings.env]\n" },
      /error compose\.yml:4 services\.web\.env_file: env file settings\.env cannot be read: no such file or directory/,
    ));
  test("a required variable that is not set", () =>
    refused(
      { "compose.yml": "services:\n  web:\n    image: nginx:${TAG:?set the tag}\n" },
      /compose\.yml:3 services\.web\.image: cannot interpolate: required variable TAG is not set: set the tag/,
    ));
  test("an extends that loops, and one of a service that does not exist", () => {
    refused(
      { "compose.yml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n" },
      /extends loops: a → b → a/,
    );
    refused(
      { "compose.yml": "services:\n  a:\n    image: x\n    extends: { service: nope }\n" },
      /there is no service nope to extend/,
    );
  });
});

describe("compose import: what the specification assembles", () => {
  test("merge keys, extends (in the file and another one), env files, profiles and an override file", () => {
    const result = ok(
      {
        "compose.yml": [
          "x-common: &common",
          "  restart: unless-stopped",
          "  environment: { SHARED: from-anchor }",
          "services:",
          "  web:",
          "    <<: *common",
          "    extends: { file: base.yml, service: base }",
          "    env_file: [web.env, { path: optional.env, required: false }]",
          "    environment: { OWN: own }",
          "  debug:",
          "    image: busybox",
          "    profiles: [debug]",
        ].join("\n"),
        "base.yml":
          "services:\n  base:\n    image: nginx:1.27\n    environment: [BASE=base, SHARED=from-base]\n",
        "web.env": "FROM_FILE=file\nQUOTED='\"kept\"'\nOWN=overridden-by-environment\n",
        "override.yml": "services:\n  web:\n    ports: ['8080:80']\n",
      },
      { extra: ["override.yml"] },
    );
    const web = container(result, "web");
    assert.equal(web.image, "docker.io/library/nginx:1.27");
    // A merge key is shallow: the service's own `environment` replaces the anchor's, so SHARED is the base's.
    assert.deepEqual(web.environment, { BASE: "base", SHARED: "from-base", OWN: "own" });
    // The env file's values stay in a file of the app, read at install (env_file), not inlined.
    assert.deepEqual(web.env_file, ["files/env/web.env"]);
    const envFile = result.files.find((f) => f.path === "files/env/web.env")?.content ?? "";
    assert.deepEqual(
      envFile.split("\n").filter((l) => !l.startsWith("#")),
      ["FROM_FILE=file", 'QUOTED=""kept""', ""],
    );
    assert.deepEqual(
      parseEnvFile(envFile).entries.map((e) => [e.name, e.value]),
      [
        ["FROM_FILE", "file"],
        ["QUOTED", '"kept"'],
      ],
    );
    assert.deepEqual(web.ports, [{ container: 80, host: 8080 }]);
    assert.deepEqual(Object.keys(result.manifest.containers), ["web"]);
    assert.ok(
      lines(result, "info").some((l) => /services\.debug: left out: it belongs to the profile debug/.test(l)),
    );
    assert.ok(lines(result, "info").some((l) => /optional\.env does not exist and is not required/.test(l)));
    const withDebug = ok(
      {
        "compose.yml":
          "services:\n  web:\n    image: nginx\n  debug:\n    image: busybox\n    profiles: [debug]\n",
      },
      { profiles: ["debug"] },
    );
    assert.deepEqual(Object.keys(withDebug.manifest.containers), ["web", "debug"]);
  });

  test("include adds another file's services; a service defined twice is an error", () => {
    const result = ok({
      "compose.yml": "include: [db.yml]\nservices:\n  web:\n    image: nginx\n",
      "db.yml": "services:\n  db:\n    image: postgres:16\n",
    });
    assert.deepEqual(Object.keys(result.manifest.containers).sort(), ["db", "web"]);
    const twice = importFiles({
      "compose.yml": "include: [db.yml]\nservices:\n  db:\n    image: nginx\n",
      "db.yml": "services:\n  db:\n    image: postgres\n",
    });
    assert.equal(twice.ok, false);
  });
});

describe("compose import: services become containers", () => {
  test("ports: short and long syntax, ranges, addresses, udp, exposed ones; a low port asks a permission", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  web:",
        "    image: nginx",
        "    ports:",
        "      - '8080:80'",
        "      - '127.0.0.1:8443:443/tcp'",
        "      - '9000-9002:9000-9002/udp'",
        "      - { target: 53, published: '53', protocol: udp }",
        "      - 3000",
        "    expose: ['5432']",
      ].join("\n"),
    });
    assert.deepEqual(container(result, "web").ports, [
      { container: 80, host: 8080 },
      { container: 443, host: 8443, bind: "127.0.0.1" },
      { container: 9000, host: 9000, protocol: "udp" },
      { container: 9001, host: 9001, protocol: "udp" },
      { container: 9002, host: 9002, protocol: "udp" },
      { container: 53, host: 53, protocol: "udp" },
      { container: 3000 },
      { container: 5432 },
    ]);
    assert.deepEqual(result.manifest.permissions?.["port-53"], {
      kind: "low-port",
      port: 53,
      reason: "Publishes port 53 of web (imported from docker-compose)",
    });
    assert.ok(
      lines(result, "review").some((l) =>
        /ports\[4\]: Docker publishes container port 3000 on a random host port/.test(l),
      ),
    );
  });

  test("volumes: app data, named, anonymous and external volumes, tmpfs, host paths, devices, sockets", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  web:",
        "    image: nginx",
        "    volumes:",
        "      - /DATA/AppData/$AppID/config:/config",
        "      - ${APP_DATA_DIR}/cache:/cache:ro",
        "      - ./data:/data",
        "      - db:/var/lib/db",
        "      - /anonymous",
        "      - legacy:/legacy",
        "      - { type: tmpfs, target: /scratch }",
        "      - /DATA/Media:/media",
        "      - /mnt/disk1/photos:/photos:ro",
        "      - /var/run/docker.sock:/var/run/docker.sock",
        "      - /etc/localtime:/etc/localtime:ro",
        "      - /home/user:/home",
        "      - ./settings.yml:/app/settings.yml",
        "    tmpfs: ['/run:size=64m']",
        "    shm_size: 1g",
        "    ulimits: { nofile: { soft: 20000, hard: 40000 }, nproc: 4096, memlock: -1, nofiles: 5 }",
        "    devices: ['/dev/dri:/dev/dri', '/dev/kvm']",
        "volumes:",
        "  db: {}",
        "  legacy: { external: true, name: old-data }",
      ].join("\n"),
    });
    const web = container(result, "web");
    assert.deepEqual(web.volumes, [
      { name: "config", path: "/config" },
      { name: "cache", path: "/cache", read_only: true },
      { name: "data", path: "/data" },
      { name: "db", path: "/var/lib/db" },
      { name: "anonymous", path: "/anonymous" },
      { name: "legacy", path: "/legacy" },
      { host_path: "/srv/Media", permission: "media", path: "/media" },
      { host_path: "/mnt/disk1/photos", permission: "photos", path: "/photos", read_only: true },
    ]);
    assert.deepEqual(web.tmpfs, ["/scratch", "/run"]);
    assert.equal(web.shm_size, "1g");
    assert.deepEqual(web.ulimits, { nofile: { soft: 20000, hard: 40000 }, nproc: 4096 });
    assert.match(
      lines(result, "review").join("\n"),
      /ulimits\.memlock: not carried over: memlock unlimited \(-1\) cannot be given to a rootless container/,
    );
    assert.match(
      lines(result, "decide").join("\n"),
      /ulimits\.nofiles: not carried over: nofiles is not a resource limit of Linux/,
    );
    assert.deepEqual(web.devices, [{ permission: "dri" }]);
    assert.deepEqual(result.manifest.adoption, { volumes: { legacy: "old-data" } });
    assert.equal(result.manifest.permissions?.media?.kind, "host-path");
    const decided = lines(result, "decide").join("\n");
    assert.match(
      decided,
      /volumes\[9\]: not mounted: \/var\/run\/docker\.sock is a container engine's socket/,
    );
    assert.match(decided, /volumes\[11\]: not mounted: the host path \/home\/user is inside \/home/);
    assert.match(decided, /volumes\[12\]: not mounted: \.\/settings\.yml looks like a single file/);
    assert.match(decided, /devices\[1\]: not passed: the device \/dev\/kvm is never given/);
    assert.match(
      lines(result, "review").join("\n"),
      /CasaOS's shared data \/DATA\/Media is asked as the host path \/srv\/Media/,
    );
  });

  test("a host path the node cannot mount (a space, where systemd splits values) is renamed under /srv for CasaOS's shared data, reported elsewhere", () => {
    const result = ok({
      "compose.yml":
        "services:\n  tv:\n    image: sonarr\n    volumes: ['/DATA/Media/TV Shows:/tv', '/mnt/my disk:/disk', './data:/in container']\n",
    });
    assert.deepEqual(container(result, "tv").volumes, [
      { host_path: "/srv/Media/TV-Shows", permission: "tv-shows", path: "/tv" },
    ]);
    assert.match(
      lines(result, "review").join("\n"),
      /CasaOS's shared data \/DATA\/Media\/TV Shows is asked as the host path \/srv\/Media\/TV-Shows/,
    );
    const decided = lines(result, "decide").join("\n");
    assert.match(
      decided,
      /volumes\[1\]: not mounted: the host path "\/mnt\/my disk" holds a space, where Quadlet and systemd split values/,
    );
    assert.match(decided, /volumes\[2\]: not mounted: the container path "\/in container" holds a space/);
  });

  test("privileged, host network, namespaces and capabilities: permissions where they exist, the report where they do not", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  vpn:",
        "    image: wireguard",
        "    privileged: true",
        "    network_mode: host",
        "    pid: host",
        "    cap_add: [NET_ADMIN, CAP_SYS_MODULE, CHOWN, ALL]",
        "    cap_drop: [SETUID]",
        "    ports: ['51820:51820/udp']",
      ].join("\n"),
    });
    const vpn = container(result, "vpn");
    assert.deepEqual(result.manifest.permissions, {
      "cap-net-admin": {
        kind: "capability",
        capability: "NET_ADMIN",
        reason: "vpn adds NET_ADMIN (imported from docker-compose)",
      },
      "cap-sys-module": {
        kind: "capability",
        capability: "SYS_MODULE",
        reason: "vpn adds SYS_MODULE (imported from docker-compose)",
      },
    });
    assert.ok(
      (vpn.capabilities as string[]).includes("NET_ADMIN") &&
        !(vpn.capabilities as string[]).includes("SETUID"),
    );
    assert.deepEqual(vpn.ports, [{ container: 51820, host: 51820, protocol: "udp" }]);
    assert.equal("privileged" in vpn, false);
    const decided = lines(result, "decide").join("\n");
    assert.match(
      decided,
      /compose\.yml:4 services\.vpn\.privileged: not carried over: privileged containers are never allowed/,
    );
    // Its ports are known: published on the same host ports, what is left is a check.
    assert.match(
      lines(result, "review").join("\n"),
      /compose\.yml:5 services\.vpn\.network_mode: host networking is never given: .* ports 51820\/udp published on the same host ports/,
    );
    assert.doesNotMatch(decided, /host networking/);
    assert.match(
      decided,
      /compose\.yml:6 services\.vpn\.pid: not carried over: containers never share a PID namespace/,
    );
    assert.match(decided, /cap_add\[3\]: not carried over: all capabilities are never given/);
  });

  test("host networking without a known port is a decision; x-casaos's page port of the only service is published", () => {
    const silent = ok({
      "compose.yml": [
        "services:",
        "  updater:",
        "    image: example/ddns:1",
        "    network_mode: host",
        "",
      ].join("\n"),
    });
    assert.equal(container(silent, "updater").ports, undefined, "no ports in the manifest");
    assert.match(
      lines(silent, "decide").join("\n"),
      /compose\.yml:4 services\.updater\.network_mode: host networking is never given, and the file names no port the container serves/,
    );
    const paged = ok({
      "compose.yml": [
        "services:",
        "  hub:",
        "    image: example/hub:2",
        "    network_mode: host",
        "x-casaos:",
        "  port_map: '8123'",
        "",
      ].join("\n"),
    });
    assert.deepEqual(container(paged, "hub").ports, [{ container: 8123, host: 8123 }]);
    assert.deepEqual(paged.manifest.interfaces?.ui, { container: "hub", port: 8123 });
    assert.deepEqual(lines(paged, "decide"), []);
    assert.match(
      lines(paged, "review").join("\n"),
      /network_mode: host networking is never given: .* ports 8123 published/,
    );
  });

  test("program, user, limits, stop settings and health checks", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  db:",
        "    image: postgres:16",
        "    command: postgres -c 'max_connections=200'",
        "    user: '999:999'",
        "    volumes: [pgdata:/var/lib/postgresql/data]",
        "    read_only: true",
        "    stop_grace_period: 1m30s",
        "    stop_signal: INT",
        "    deploy: { resources: { limits: { memory: 512M, cpus: '0.5' }, reservations: { memory: 128M } } }",
        "    healthcheck:",
        "      test: ['CMD-SHELL', 'pg_isready -U postgres']",
        "      interval: 10s",
        "      timeout: 30s",
        "      retries: 5",
        "      start_period: 1m",
        "  app:",
        "    image: ghcr.io/example/app",
        "    entrypoint: ['/bin/app']",
        "    depends_on: { db: { condition: service_healthy } }",
        "    healthcheck: { test: ['CMD', 'wget', '-qO-', 'http://localhost/health'] }",
        "volumes: { pgdata: {} }",
      ].join("\n"),
    });
    const db = container(result, "db");
    assert.deepEqual(db.command, ["postgres", "-c", "max_connections=200"]);
    assert.equal(db.user, "999:999");
    assert.equal(db.data_uid, 999);
    assert.equal(db.read_only, true);
    assert.equal(db.stop_timeout, 90);
    assert.equal(db.stop_signal, "SIGINT");
    assert.equal(db.memory, "512m");
    assert.deepEqual(db.health, {
      type: "exec",
      command: ["/bin/sh", "-c", "pg_isready -U postgres"],
      interval: 10,
      timeout: 9,
      retries: 5,
      start_period: 60,
    });
    const app = container(result, "app");
    assert.equal(app.image, "ghcr.io/example/app");
    assert.deepEqual(app.entrypoint, ["/bin/app"]);
    assert.deepEqual(app.depends_on, { db: "healthy" });
    assert.deepEqual((app.health as { command: string[] }).command, [
      "wget",
      "-qO-",
      "http://localhost/health",
    ]);
  });

  test("depends_on a service without a check waits for it to start, and says so; on a job, for it to complete", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  web:",
        "    image: nginx",
        "    depends_on:",
        "      db: { condition: service_healthy }",
        "      migrate: { condition: service_completed_successfully }",
        "  db: { image: postgres }",
        "  migrate: { image: app, command: migrate }",
      ].join("\n"),
    });
    assert.deepEqual(container(result, "web").depends_on, { db: "started", migrate: "completed" });
    assert.equal(container(result, "migrate").job, true);
    const decided = lines(result, "decide").join("\n");
    assert.match(decided, /depends_on\.db: db must be healthy first, but it has no health check/);
    assert.match(
      lines(result, "review").join("\n"),
      /depends_on\.migrate: migrate became a job \(`job: true`\): it runs to completion before web starts/,
    );
  });

  test("a service waited for both as completed and as started stays a running container, and says so", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  web:",
        "    image: nginx",
        "    depends_on:",
        "      migrate: { condition: service_completed_successfully }",
        "  worker:",
        "    image: app",
        "    depends_on: [migrate]",
        "  migrate: { image: app, command: migrate }",
      ].join("\n"),
    });
    assert.deepEqual(container(result, "web").depends_on, { migrate: "started" });
    assert.equal(container(result, "migrate").job, undefined);
    assert.match(
      lines(result, "decide").join("\n"),
      /depends_on\.migrate: migrate must finish first, but it is also waited for as started/,
    );
  });
});

describe("compose import: variables map to what the platform provides", () => {
  test("$PUID, $TZ, ${APP_DATA_DIR} and unset passwords: the uid of the volumes, UTC, app volumes, generated secrets", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  app:",
        "    image: lscr.io/linuxserver/app",
        "    environment:",
        "      PUID: $PUID",
        "      PGID: ${PGID:-100}",
        "      TZ: $TZ",
        "      DB_PASSWORD: ${DB_PASSWORD}",
        "      DB_URL: postgres://app:${DB_PASSWORD}@db/app",
        "      EMPTY: $NOT_SET_ANYWHERE",
        "      LITERAL: $${KEEP} costs $$5",
        "    volumes: ['${APP_DATA_DIR}/config:/config']",
        "  db:",
        "    image: postgres",
        "    environment: { POSTGRES_PASSWORD: '${DB_PASSWORD}' }",
      ].join("\n"),
    });
    const app = container(result, "app");
    assert.deepEqual(app.environment, {
      PUID: "1000",
      PGID: "1000",
      TZ: "Etc/UTC",
      DB_PASSWORD: { secret: "db-password" },
      DB_URL: "postgres://app:${secret:db-password}@db/app",
      EMPTY: "",
      LITERAL: "$${KEEP} costs $5",
    });
    assert.equal(app.data_uid, 1000);
    assert.deepEqual(container(result, "db").environment, { POSTGRES_PASSWORD: { secret: "db-password" } });
    assert.deepEqual(result.manifest.secrets, { "db-password": { type: "alphanumeric", length: 32 } });
    const info = lines(result, "info").join("\n");
    assert.match(info, /\$PUID: 1000, the uid \(and gid\) the app's volumes belong to/);
    assert.match(info, /\$TZ: Etc\/UTC/);
    assert.match(info, /\$DB_PASSWORD: a secret the platform generates at install \(db-password\)/);
    assert.match(
      info,
      /environment\.DB_URL: DB_URL is postgres:\/\/app:\$\{DB_PASSWORD\}@db\/app: written postgres:\/\/app:\$\{secret:db-password\}@db\/app, the node renders it with the generated db-password in it/,
    );
    assert.doesNotMatch(lines(result, "decide").join("\n"), /DB_URL/);
    assert.match(
      lines(result, "review").join("\n"),
      /\$NOT_SET_ANYWHERE is not set: as Compose does, it became the empty string/,
    );
    const fromDotenv = ok(
      { "compose.yml": "services:\n  app:\n    image: x\n    environment: { TZ: $TZ }\n" },
      { dotenv: { TZ: "Europe/Paris" } },
    );
    assert.deepEqual(container(fromDotenv, "app").environment, { TZ: "Europe/Paris" });
  });

  test("a fixed password written only as whole values becomes one generated secret; one also written inside a URL stays, reported", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  app:",
        "    image: app",
        "    environment: { ADMIN_USER: admin, ADMIN_PASSWORD: casaos, DB_PASS: s3cret-db, DB_URL: 'mysql://u:s3cret-db@db/x' }",
        "  db:",
        "    image: mariadb",
        "    environment: { MYSQL_USER: casaos, MYSQL_PASSWORD: casaos, MYSQL_ROOT_PASSWORD: s3cret-db }",
      ].join("\n"),
    });
    assert.deepEqual(container(result, "app").environment, {
      ADMIN_USER: "admin",
      ADMIN_PASSWORD: { secret: "admin-password" },
      DB_PASS: "s3cret-db",
      DB_URL: "mysql://u:s3cret-db@db/x",
    });
    assert.deepEqual((container(result, "db").environment as Record<string, unknown>).MYSQL_PASSWORD, {
      secret: "admin-password",
    });
    assert.deepEqual(result.manifest.credentials, [
      { label: "ADMIN_PASSWORD (app)", username: "admin", secret: "admin-password" },
    ]);
    assert.match(
      lines(result, "review").join("\n"),
      /DB_PASS keeps the fixed password written in the compose file/,
    );
  });
});

describe("compose import: the app's identity and web page", () => {
  test("x-casaos gives the name, description, category, icon, links, version and the web page (CasaOS files)", () => {
    const result = ok({
      "compose.yml": [
        "name: whoami",
        "services:",
        "  whoami:",
        "    image: traefik/whoami:v1.10",
        "    ports: [{ target: 80, published: '8088', protocol: tcp }]",
        "x-casaos:",
        "  title: { en_US: Who Am I, de_DE: Wer bin ich }",
        "  description: { zh_CN: 中文, en_US: Tells who you are. }",
        "  category: Developer",
        "  icon: https://example.org/icon.png",
        "  website: https://example.org",
        "  repo: https://example.org/src",
        "  main: whoami",
        "  port_map: '8088'",
        "  index: /api",
        "  version: '1.10'",
      ].join("\n"),
    });
    const m = result.manifest;
    assert.deepEqual(
      [m.id, m.version, m.name, m.description, m.category, m.icon],
      ["app", "1.10.0", "Who Am I", "Tells who you are.", "developer", "https://example.org/icon.png"],
    );
    assert.deepEqual(m.links, { homepage: "https://example.org", source: "https://example.org/src" });
    assert.deepEqual(m.interfaces, { ui: { container: "whoami", port: 80, path: "/api" } });
  });

  test("without x-casaos the web page is the first published TCP port, said to be guessed", () => {
    const result = ok({
      "compose.yml":
        "services:\n  db:\n    image: redis\n  web:\n    image: nginx:1.27.1\n    ports: ['8080:80']\n",
    });
    assert.deepEqual(result.manifest.interfaces, { ui: { container: "web", port: 80 } });
    assert.equal(result.manifest.version, "1.27.1");
    assert.match(lines(result, "review").join("\n"), /the web page is guessed: port 80 of web/);
  });

  test("service names that are not DNS labels become keys; an inline config becomes an app file copied before start", () => {
    const result = ok({
      "compose.yml": [
        "services:",
        "  My_Web:",
        "    image: nginx",
        "    configs: [{ source: site, target: /etc/nginx/conf.d/default.conf }]",
        "configs:",
        "  site:",
        "    content: 'server { listen 80; }'",
      ].join("\n"),
    });
    assert.deepEqual(Object.keys(result.manifest.containers), ["my-web"]);
    assert.deepEqual(result.files, [{ path: "files/configs/site", content: "server { listen 80; }" }]);
    assert.deepEqual(result.manifest.hooks, {
      pre_start: [
        {
          copy_from_host: {
            from: "files/configs/site",
            container: "my-web",
            to: "/etc/nginx/conf.d/default.conf",
          },
        },
      ],
    });
  });
});

test("every key of a compose service is either converted or said to be left out (nothing is dropped silently)", () => {
  assert.deepEqual(
    SERVICE_KEYS.filter((key) => SERVICE_KEY_HANDLING[key] === undefined),
    [],
  );
  assert.deepEqual(
    Object.keys(SERVICE_KEY_HANDLING).filter((key) => !SERVICE_KEYS.includes(key)),
    [],
  );
});
