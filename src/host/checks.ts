/**
 * The host checks of `archy doctor`: each reads the system, decides with the pure functions beside
 * this file, and when something is wrong describes the fix as the exact commands that apply it.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { CODE_ROOT } from "../system/code-root.ts";
import {
  asUserArgv,
  type ExecOptions,
  exec,
  execAs,
  type RunAs,
  shellJoin,
  shellQuote,
} from "../system/exec.ts";
import {
  CONTAINERS_CONF_DROPIN,
  containersConf,
  containersConfStatus,
  STORAGE_CONF,
  STORAGE_CONF_CONTENT,
  storageConfStatus,
} from "./config.ts";
import { QUADLET_GENERATOR, SERVICE_USER, TEST_IMAGE, TEST_USER } from "./layout.ts";
import { DPKG_QUERY_FORMAT, installCommands, missingPackages, REQUIRED_PACKAGES } from "./packages.ts";
import {
  podmanInfoStatus,
  propagationStatus,
  quadletStatus,
  testImageStatus,
  worldReadWritable,
} from "./podman-status.ts";
import {
  allocateSubIds,
  parsePasswd,
  parseSubIds,
  rewriteSubIds,
  SUBID_COUNT,
  type SubIdRange,
  subIdStatus,
} from "./users.ts";

/** One step of a fix: the command line shown to the operator and the code that does exactly that. */
export type Step = { show: string; run(): Promise<void> };
/** How to fix a failed check; `needsRoot` false when the user running doctor can apply it. */
export type Fix = { steps: string[]; needsRoot: boolean; apply(): Promise<void> };
export type CheckResult = { ok: boolean; detail: string; fix?: Fix };
export type Check = { id: string; title: string; check(): Promise<CheckResult> };

/** What doctor knows about the machine it runs on. */
export type Host = { isRoot: boolean; systemd: boolean; me: RunAs };

export function detectHost(): Host {
  const info = userInfo();
  return {
    isRoot: info.uid === 0,
    systemd: existsSync("/run/systemd/system"),
    me: { name: info.username, uid: info.uid, gid: info.gid, home: info.homedir },
  };
}

const BUILD_TEST_IMAGES = join(CODE_ROOT, "scripts", "build-test-images");
const QUADLET_ROOT = QUADLET_GENERATOR.replace(/\/usr\/libexec\/podman\/quadlet$/, "");
const TRIXIE_APT = "/var/cache/archipelago/apt-trixie";

function failed(argv: readonly string[], result: { code: number; stderr: string }): Error {
  const tail = result.stderr.trim().split("\n").slice(-5).join("\n");
  return new Error(`\`${shellJoin(argv)}\` failed (exit ${result.code})${tail ? `:\n${tail}` : ""}`);
}

/** A step running `argv` (shown as `show` when the printed form should differ, e.g. a glob). */
function command(argv: readonly string[], options: ExecOptions & { show?: string } = {}): Step {
  return {
    show: options.show ?? shellJoin(argv),
    async run() {
      const result = await exec(argv[0] as string, argv.slice(1), { timeoutMs: 900_000, ...options });
      if (result.code !== 0) throw failed(argv, result);
    },
  };
}

/** A step running `argv` as `user` (through runuser when we are root). */
function commandAs(user: RunAs, argv: readonly string[]): Step {
  const shown = asUserArgv(user, argv, process.getuid?.() ?? -1);
  return {
    show: `(cd /tmp && ${shellJoin(shown)})`,
    async run() {
      const result = await execAs(user, argv, { timeoutMs: 900_000 });
      if (result.code !== 0) throw failed(shown, result);
    },
  };
}

/** A step replacing a whole file, atomically (shown as the equivalent here-document). */
function fileStep(path: string, content: string): Step {
  return {
    show: `mkdir -p ${shellQuote(dirname(path))} && cat > ${shellQuote(path)} <<'EOF'\n${content}EOF`,
    run: () => replaceFile(path, content),
  };
}

/** Writes `path` through a temporary file and a rename, so Podman never reads half a config. */
async function replaceFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const next = `${path}.archipelago-new`;
  await writeFile(next, content, { mode: 0o644 });
  await rename(next, path);
}

function fixOf(steps: Step[], needsRoot = true): Fix {
  return {
    steps: steps.map((step) => step.show),
    needsRoot,
    async apply() {
      for (const step of steps) await step.run();
    },
  };
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

async function lookupUser(name: string): Promise<RunAs | null> {
  const entry = parsePasswd((await readOrNull("/etc/passwd")) ?? "").find((user) => user.name === name);
  return entry ? { name, uid: entry.uid, gid: entry.gid, home: entry.home } : null;
}

function packagesCheck(host: Host): Check {
  return {
    id: "packages",
    title: "Debian packages for rootless Podman and backups",
    async check() {
      const result = await exec("dpkg-query", ["-W", "-f", DPKG_QUERY_FORMAT, ...REQUIRED_PACKAGES]);
      const noDpkg = result.code === 127;
      const missing = noDpkg ? [...REQUIRED_PACKAGES] : missingPackages(result.stdout, REQUIRED_PACKAGES);
      if (missing.length === 0) return { ok: true, detail: `all ${REQUIRED_PACKAGES.length} installed` };
      const steps = installCommands(missing, host.systemd).map((argv) => command(argv));
      const detail = noDpkg ? "no dpkg-query: not a Debian system" : `missing: ${missing.join(" ")}`;
      return { ok: false, detail, fix: fixOf(steps) };
    },
  };
}

function containersConfCheck(host: Host): Check {
  return {
    id: "containers-conf",
    title: `Podman engine settings (${CONTAINERS_CONF_DROPIN})`,
    async check() {
      const status = containersConfStatus(await readOrNull(CONTAINERS_CONF_DROPIN), host.systemd);
      if (status.ok) return status;
      return { ...status, fix: fixOf([fileStep(CONTAINERS_CONF_DROPIN, containersConf(host.systemd))]) };
    },
  };
}

function storageConfCheck(): Check {
  return {
    id: "storage-conf",
    title: `overlay storage driver (${STORAGE_CONF})`,
    async check() {
      const current = await readOrNull(STORAGE_CONF);
      const status = storageConfStatus(current);
      if (status.ok) return status;
      const backup = `${STORAGE_CONF}.archipelago-backup`;
      const steps = current === null ? [] : [command(["cp", "-a", STORAGE_CONF, backup])];
      return { ...status, fix: fixOf([...steps, fileStep(STORAGE_CONF, STORAGE_CONF_CONTENT)]) };
    },
  };
}

function tunCheck(): Check {
  const tun = "/dev/net/tun";
  return {
    id: "tun",
    title: `${tun} usable by every user (rootless networking)`,
    async check() {
      const info = await statOrNull(tun);
      if (!info) {
        const steps = [
          command(["mkdir", "-p", "/dev/net"]),
          command(["mknod", "-m", "0666", tun, "c", "10", "200"]),
        ];
        return { ok: false, detail: "missing", fix: fixOf(steps) };
      }
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      if (worldReadWritable(info.mode)) return { ok: true, detail: `mode ${mode}` };
      return { ok: false, detail: `mode ${mode}`, fix: fixOf([command(["chmod", "0666", tun])]) };
    },
  };
}

function mountCheck(): Check {
  return {
    id: "mount-propagation",
    title: "/ is a shared mount",
    async check() {
      const result = await exec("findmnt", ["-no", "PROPAGATION", "/"]);
      const status = propagationStatus(result.code, result.stdout);
      return status.ok ? status : { ...status, fix: fixOf([command(["mount", "--make-rshared", "/"])]) };
    },
  };
}

/** The steps giving `user` a free range in /etc/subuid or /etc/subgid (empty when it has one). */
async function subIdSteps(user: RunAs, kind: "uid" | "gid"): Promise<{ detail: string; steps: Step[] }> {
  const file = `/etc/sub${kind}`;
  const ranges = parseSubIds((await readOrNull(file)) ?? "");
  const status = subIdStatus(ranges, user);
  if (status.ok) return { detail: `sub${kind}s ${status.detail}`, steps: [] };
  const start = allocateSubIds(ranges.filter((range) => !status.conflicting.includes(range)));
  const add = { owner: user.name, start, count: SUBID_COUNT };
  const entry = (range: SubIdRange) => `${range.owner}:${range.start}:${range.count}`;
  const shown = [
    ...status.conflicting.map((range) => `sed -i ${shellQuote(`/^${entry(range)}$/d`)} ${file}`),
    `echo ${entry(add)} >> ${file}`,
  ];
  const step: Step = {
    show: shown.join(" && "),
    async run() {
      const current = (await readOrNull(file)) ?? "";
      await replaceFile(file, rewriteSubIds(current, status.conflicting, add));
    },
  };
  return { detail: `sub${kind}s: ${status.detail}`, steps: [step] };
}

function userCheck(host: Host, name: string, purpose: string): Check {
  return {
    id: `user-${name}`,
    title: `user ${name} (${purpose}) with subordinate ids and a runtime dir`,
    async check() {
      const user = await lookupUser(name);
      if (!user) {
        return {
          ok: false,
          detail: "missing",
          fix: fixOf([command(["useradd", "-m", "-s", "/bin/bash", name])]),
        };
      }
      const found: string[] = [`uid ${user.uid}`];
      const problems: string[] = [];
      const steps: Step[] = [];
      const home = await statOrNull(user.home);
      if (!home?.isDirectory()) {
        problems.push(`home ${user.home} missing`);
        steps.push(command(["install", "-d", "-m", "0750", "-o", name, "-g", String(user.gid), user.home]));
      }
      // Before the ids: `podman system migrate` after an id change needs it.
      const runtimeDir = `/run/user/${user.uid}`;
      const runtime = await statOrNull(runtimeDir);
      if (runtime?.isDirectory() && (runtime.mode & 0o777) === 0o700 && runtime.uid === user.uid) {
        found.push(`${runtimeDir} ok`);
      } else {
        problems.push(runtime ? `${runtimeDir} has the wrong owner or mode` : `${runtimeDir} missing`);
        steps.push(command(["install", "-d", "-m", "0700", "-o", name, "-g", String(user.gid), runtimeDir]));
      }
      let idsChanged = false;
      for (const kind of ["uid", "gid"] as const) {
        const ids = await subIdSteps(user, kind);
        (ids.steps.length > 0 ? problems : found).push(ids.detail);
        steps.push(...ids.steps);
        idsChanged ||= ids.steps.length > 0;
      }
      if (idsChanged && existsSync(join(user.home, ".local/share/containers/storage"))) {
        steps.push(commandAs(user, ["podman", "system", "migrate"])); // storage made with the old ids
      }
      if (host.systemd) {
        if (existsSync(`/var/lib/systemd/linger/${name}`)) found.push("lingering");
        else {
          problems.push("no linger (its services would stop at logout and not start at boot)");
          steps.push(command(["loginctl", "enable-linger", name]));
        }
      }
      if (problems.length === 0) return { ok: true, detail: found.join(", ") };
      return { ok: false, detail: problems.join("; "), fix: fixOf(steps) };
    },
  };
}

/** The user whose rootless Podman a check drives: `name` as root, ourselves otherwise. */
async function podmanUser(host: Host, name: string): Promise<RunAs | null> {
  return host.isRoot ? lookupUser(name) : host.me;
}

function podmanCheck(host: Host, name: string): Check {
  const who = host.isRoot ? name : host.me.name;
  return {
    id: `podman-${who}`,
    title: `rootless Podman works for ${who} (overlay, runc)`,
    async check() {
      const user = await podmanUser(host, name);
      if (!user) return { ok: false, detail: `no user ${name} (see its check above)` };
      const result = await execAs(user, ["podman", "info", "--format", "json"], { timeoutMs: 60_000 });
      const status = podmanInfoStatus(result.code, result.stdout, result.stderr);
      if (status.ok || status.repair === null) return { ok: status.ok, detail: status.detail };
      if (status.repair === "migrate") {
        return {
          ok: false,
          detail: `${status.detail} (its pause process died; migrate keeps its containers and images)`,
          fix: fixOf([commandAs(user, ["podman", "system", "migrate"])], host.isRoot),
        };
      }
      return {
        ok: false,
        detail: `${status.detail} (reset deletes its containers and images)`,
        fix: fixOf([commandAs(user, ["podman", "system", "reset", "-f"])], host.isRoot),
      };
    },
  };
}

function quadletCheck(): Check {
  const apt = [
    "-o",
    `Dir::Etc::SourceList=${TRIXIE_APT}/sources.list`,
    "-o",
    "Dir::Etc::SourceParts=/nonexistent",
    "-o",
    `Dir::State::Lists=${TRIXIE_APT}/lists`,
    "-o",
    `Dir::Cache=${TRIXIE_APT}/cache`,
    "-o",
    "APT::Get::List-Cleanup=0",
  ];
  const staging = `${QUADLET_ROOT}.new`;
  const extract: Step = {
    show: `dpkg -x ${TRIXIE_APT}/podman_*.deb ${staging}`,
    async run() {
      const debs = (await readdir(TRIXIE_APT)).filter((file) => /^podman_.*\.deb$/.test(file)).sort();
      const deb = debs.at(-1);
      if (!deb) throw new Error(`apt-get download left no podman_*.deb in ${TRIXIE_APT}`);
      await command(["dpkg", "-x", join(TRIXIE_APT, deb), staging]).run();
    },
  };
  const steps = [
    command(["mkdir", "-p", `${TRIXIE_APT}/lists/partial`, `${TRIXIE_APT}/cache`]),
    fileStep(`${TRIXIE_APT}/sources.list`, "deb http://deb.debian.org/debian trixie main\n"),
    command(["apt-get", ...apt, "update"]),
    command(["find", TRIXIE_APT, "-maxdepth", "1", "-name", "podman_*.deb", "-delete"]),
    command(["apt-get", ...apt, "download", "podman"], {
      cwd: TRIXIE_APT,
      show: `(cd ${TRIXIE_APT} && apt-get ${apt.join(" ")} download podman)`,
    }),
    command(["mkdir", "-p", dirname(QUADLET_ROOT)]),
    command(["rm", "-rf", staging]),
    extract,
    command(["rm", "-rf", QUADLET_ROOT]),
    command(["mv", staging, QUADLET_ROOT]),
  ];
  return {
    id: "quadlet",
    title: "Quadlet generator for validating units (Debian 13's, unpacked, not installed)",
    async check() {
      const units = await mkdtemp("/tmp/archy-quadlet-");
      try {
        await writeFile(
          join(units, "probe.container"),
          "[Container]\nImage=localhost/probe:1\nExec=sleep 1\n",
        );
        const result = await exec(QUADLET_GENERATOR, ["-dryrun"], {
          env: { QUADLET_UNIT_DIRS: units },
          timeoutMs: 30_000,
        });
        const status = quadletStatus(result.code, result.stdout, result.stderr);
        return status.ok ? status : { ...status, fix: fixOf(steps) };
      } finally {
        await rm(units, { recursive: true, force: true });
      }
    },
  };
}

/** The sample apps run on the busybox test image: the tests' user and the daemon's user need it. */
function testImageCheck(host: Host, owner: string): Check {
  const who = host.isRoot ? owner : host.me.name;
  return {
    id: owner === TEST_USER ? "test-image" : `test-image-${owner}`,
    title: `test image ${TEST_IMAGE} in ${who}'s storage`,
    async check() {
      const user = await podmanUser(host, owner);
      if (!user) return { ok: false, detail: `no user ${owner} (see its check above)` };
      const hash = await exec(BUILD_TEST_IMAGES, ["--print-hash"]);
      if (hash.code !== 0)
        return { ok: false, detail: `cannot compute the build hash: ${hash.stderr.trim()}` };
      const inspect = await execAs(user, ["podman", "image", "inspect", TEST_IMAGE], { timeoutMs: 60_000 });
      const status = testImageStatus(inspect.code, inspect.stdout, hash.stdout.trim());
      if (status.ok) return status;
      const build = host.isRoot ? [BUILD_TEST_IMAGES, "--user", owner] : [BUILD_TEST_IMAGES];
      return { ...status, fix: fixOf([command(build)], host.isRoot) };
    },
  };
}

/** Every check, in the order fixes must be applied (packages before config before users before Podman). */
export function hostChecks(host: Host): Check[] {
  return [
    packagesCheck(host),
    containersConfCheck(host),
    storageConfCheck(),
    tunCheck(),
    mountCheck(),
    userCheck(host, SERVICE_USER, "runs the daemon"),
    userCheck(host, TEST_USER, "runs the rootless tests"),
    ...(host.isRoot
      ? [podmanCheck(host, SERVICE_USER), podmanCheck(host, TEST_USER)]
      : [podmanCheck(host, TEST_USER)]),
    quadletCheck(),
    testImageCheck(host, TEST_USER),
    ...(host.isRoot ? [testImageCheck(host, SERVICE_USER)] : []),
  ];
}
