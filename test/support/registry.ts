/**
 * A real image registry for tests and the demo: Debian's `docker-registry` (the CNCF distribution
 * registry) on a free loopback port, with TLS from a CA made here and basic auth, and images pushed
 * into it with `skopeo` from the test user's Podman store. Nothing leaves the machine.
 *
 * Trust is per registry, never global: the CA goes to the test user's
 * `~/.config/containers/certs.d/<host:port>/ca.crt` (read by Podman at every pull, for that host
 * only) and is removed again by `stop()`. The password is bcrypt-hashed for the registry's htpasswd
 * file by perl's `crypt` (perl-base is Essential on Debian, and its libxcrypt knows `$2b$`), so no
 * apache2-utils is needed.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_IMAGE } from "../../src/host/layout.ts";
import { runAsTestUser, testUser } from "./rootless.ts";
import { freePort } from "./samples.ts";
import { waitFor } from "./wait.ts";

export type PushedImage = {
  /** `host:port/repo:tag`. */
  reference: string;
  /** The manifest's digest, `sha256:…`. */
  digest: string;
  /** `host:port/repo:tag@sha256:…`. */
  pinned: string;
};

export type TestRegistry = {
  /** `127.0.0.1:<port>`: the registry part of image references. */
  host: string;
  username: string;
  password: string;
  /** The CA's certificate (PEM) that signed the registry's. */
  caFile: string;
  /** The registry's storage (its blobs: `docker/registry/v2/blobs/sha256/<2>/<hex>/data`). */
  storage: string;
  /** Copies an image of the test user's Podman store (default: the test image) to `repo:tag`. */
  push(repoTag: string, source?: string): Promise<PushedImage>;
  /**
   * Pushes an image index (multi-platform list) holding `source` (this node's platform) to
   * `repo:tag`; its digest is the index's.
   */
  pushIndex(repoTag: string, source: string): Promise<PushedImage>;
  /** The file a blob is stored in (to tamper with it). */
  blobFile(digest: string): string;
  /** The digests of the layers of a pushed image (its manifest as stored). */
  layers(image: PushedImage): string[];
  /**
   * The registry behind a TCP proxy on another loopback port that passes what the registry sends
   * at `bytesPerSecond` (Podman reports a blob's bytes once a second: a loopback pull is over
   * before that), trusted like the registry itself. Its host is the proxy's `127.0.0.1:<port>`.
   */
  throttled(bytesPerSecond: number): Promise<{ host: string; close(): Promise<void> }>;
  /**
   * The requests the registry served since it (re)started, one access-log line each
   * (`"GET /v2/<repo>/blobs/sha256:… HTTP/1.1" 200 …`): what was asked of the origin.
   */
  requests(): string[];
  /** Stops serving (the registry is "down"); `start()` serves the same storage again, same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops the registry and removes its files and the test user's trust in its CA. */
  stop(): Promise<void>;
};

function run(file: string, args: string[], options: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** A bcrypt `$2b$` hash of `password` by libxcrypt (through perl's crypt). */
async function bcrypt(password: string): Promise<string> {
  const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // The 22nd character carries only 2 bits of the salt: one of the four that libxcrypt accepts there.
  const salt =
    [...randomBytes(21)].map((b) => alphabet[b % 64]).join("") + "Oeu."[(randomBytes(1)[0] as number) % 4];
  const hash = await run("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", "--", password, `$2b$10$${salt}`]);
  if (!hash.startsWith("$2b$10$")) throw new Error(`perl's crypt made no bcrypt hash (${hash})`);
  return hash;
}

/** A CA and a certificate for 127.0.0.1 signed by it, made by openssl in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const cert = join(dir, "registry.crt");
  const key = join(dir, "registry.key");
  const csr = join(dir, "registry.csr");
  const ext = join(dir, "registry.ext");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    ca,
    "-days",
    "2",
    "-subj",
    "/CN=archipelago test registry CA",
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { ca, cert, key };
}

/** Where the test user's Podman looks for the CA of registry `host` (and nowhere else). */
export function trustDir(host: string): string {
  return join(testUser.home, ".config", "containers", "certs.d", host);
}

/** Makes `path` and its new parents the test user's (when running as root). */
function giveToTestUser(path: string): void {
  if (process.getuid?.() === 0) chownSync(path, testUser.uid, testUser.gid);
}

/**
 * An image of its own in the test user's store: the test image and a layer of `bytes` random
 * bytes, so that its digest is new (Podman finds images by digest, whatever their name) and its
 * pull downloads something. Returns its local name; `push` it, then `forgetLocal` it.
 */
export async function buildUniqueImage(name: string, bytes: number): Promise<string> {
  const context = mkdtempSync(join(tmpdir(), "archy-image-"));
  try {
    writeFileSync(join(context, "blob"), randomBytes(bytes));
    writeFileSync(join(context, "Containerfile"), `FROM ${TEST_IMAGE}\nCOPY blob /blob\n`);
    for (const file of ["", "blob", "Containerfile"]) giveToTestUser(join(context, file));
    const local = `localhost/archy-test/${name}:1`;
    const result = await runAsTestUser(["podman", "build", "--quiet", "--tag", local, context]);
    if (result.code !== 0) throw new Error(`podman build of ${local} failed: ${result.stderr}`);
    return local;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Removes an image (by a name or digest of its own only) from the test user's store. */
export async function forgetImage(reference: string): Promise<void> {
  await runAsTestUser(["podman", "rmi", "--force", reference]);
}

export async function startRegistry(options: { username?: string } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "archy-registry-"));
  giveToTestUser(dir);
  const storage = join(dir, "storage");
  mkdirSync(storage);
  const { ca, cert, key } = await makeCertificates(dir);
  for (const file of readdirSync(dir)) giveToTestUser(join(dir, file));
  const username = options.username ?? "archy";
  const password = randomBytes(18).toString("base64url");
  writeFileSync(join(dir, "htpasswd"), `${username}:${await bcrypt(password)}\n`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log: {level: warn}",
      `storage: {filesystem: {rootdirectory: ${storage}}, delete: {enabled: true}}`,
      `http: {addr: "${host}", tls: {certificate: ${cert}, key: ${key}}}`,
      `auth: {htpasswd: {realm: archy-test, path: ${join(dir, "htpasswd")}}}`,
      "",
    ].join("\n"),
  );
  // The test user's trust in this registry's CA, for this host:port only.
  const trust = trustDir(host);
  const created = mkdirSync(trust, { recursive: true });
  if (created && process.getuid?.() === 0)
    for (let path = trust; path.length >= created.length; path = join(path, ".."))
      chownSync(path, testUser.uid, testUser.gid);
  writeFileSync(join(trust, "ca.crt"), readFileSync(ca));
  giveToTestUser(join(trust, "ca.crt"));

  let child: ChildProcess | undefined;
  let output = "";
  const start = async () => {
    output = "";
    child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const spawned = child;
    await waitFor(
      async () => {
        if (spawned.exitCode !== null) throw new Error(`docker-registry exited: ${output}`);
        // Without credentials the registry answers 401: it is up.
        const status = await run("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "--cacert",
          ca,
          `https://${host}/v2/`,
        ]).catch(() => "");
        return status === "401";
      },
      { what: `the registry to answer on ${host}`, seen: () => output },
    );
  };
  const halt = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  };
  await start();
  const credentials = `${username}:${password}`;
  const blobFile = (digest: string) => {
    const hex = digest.replace(/^sha256:/, "");
    return join(storage, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
  };

  return {
    host,
    username,
    password,
    caFile: ca,
    storage,
    async push(repoTag, source = TEST_IMAGE) {
      const reference = `${host}/${repoTag}`;
      const digestFile = join(dir, `digest-${randomBytes(4).toString("hex")}`);
      const result = await runAsTestUser([
        "skopeo",
        "copy",
        "--quiet",
        "--dest-creds",
        credentials,
        // The trust directory holds the CA alone (skopeo takes a *.key beside it for a client key).
        "--dest-cert-dir",
        trust,
        "--digestfile",
        digestFile,
        `containers-storage:${source}`,
        `docker://${reference}`,
      ]);
      if (result.code !== 0) throw new Error(`skopeo copy to ${reference} failed: ${result.stderr}`);
      const digest = readFileSync(digestFile, "utf8").trim();
      return { reference, digest, pinned: `${reference}@${digest}` };
    },
    async pushIndex(repoTag, source) {
      const reference = `${host}/${repoTag}`;
      const list = `localhost/archy-test/index-${randomBytes(4).toString("hex")}:1`;
      const digestFile = join(dir, `digest-${randomBytes(4).toString("hex")}`);
      try {
        for (const argv of [
          ["podman", "manifest", "create", list],
          ["podman", "manifest", "add", list, `containers-storage:${source}`],
          [
            "podman",
            "manifest",
            "push",
            "--all",
            "--quiet",
            "--creds",
            credentials,
            "--cert-dir",
            trust,
            "--digestfile",
            digestFile,
            list,
            `docker://${reference}`,
          ],
        ]) {
          const result = await runAsTestUser(argv);
          if (result.code !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} failed: ${result.stderr}`);
        }
      } finally {
        await runAsTestUser(["podman", "manifest", "rm", list]);
      }
      const digest = readFileSync(digestFile, "utf8").trim();
      return { reference, digest, pinned: `${reference}@${digest}` };
    },
    blobFile,
    layers(image) {
      const manifest = JSON.parse(readFileSync(blobFile(image.digest), "utf8")) as {
        layers: Array<{ digest: string }>;
      };
      return manifest.layers.map((l) => l.digest);
    },
    requests: () =>
      output.split("\n").filter((line) => /"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\//.test(line)),
    halt,
    start,
    async throttled(bytesPerSecond) {
      const proxyPort = await freePort();
      const proxyHost = `127.0.0.1:${proxyPort}`;
      const sockets = new Set<Socket>();
      const server = createServer((client) => {
        const upstream = connect(port, "127.0.0.1");
        sockets.add(client).add(upstream);
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", end).on("close", end);
        upstream.on("error", end).on("close", end);
        client.pipe(upstream);
        upstream.on("data", (chunk: Buffer) => {
          upstream.pause();
          client.write(chunk);
          setTimeout(() => upstream.resume(), Math.ceil((1000 * chunk.length) / bytesPerSecond));
        });
      });
      await new Promise<void>((resolve) => server.listen(proxyPort, "127.0.0.1", resolve));
      const proxyTrust = trustDir(proxyHost);
      mkdirSync(proxyTrust, { recursive: true });
      writeFileSync(join(proxyTrust, "ca.crt"), readFileSync(ca));
      for (const path of [proxyTrust, join(proxyTrust, "ca.crt")]) giveToTestUser(path);
      return {
        host: proxyHost,
        async close() {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          rmSync(proxyTrust, { recursive: true, force: true });
        },
      };
    },
    async stop() {
      await halt();
      rmSync(trust, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
