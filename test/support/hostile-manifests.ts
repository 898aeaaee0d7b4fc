/**
 * Manifests drawn from the schema's value space with hostile values, for property tests of the
 * validator and the renderers: every field that reaches a unit file, a Podman argument or a
 * Kubernetes object sometimes holds text that means something there (quotes, spaces, `;`, `%`, `$`,
 * `\`, `:`, `,`, line breaks, unicode, long values), out-of-range numbers or odd address forms.
 * Most values stay ordinary, so that a good share of the manifests is valid and gets rendered.
 */
import fc from "fast-check";
import YAML from "yaml";
import { type ParseResult, parseManifest } from "../../src/manifest/parse.ts";

/** Characters that mean something to YAML, systemd, Quadlet, Podman's option syntax or a shell. */
const SPECIAL = [
  ..." ;%$\\\"':,={}#\t\n\r*&|`~+@!()[]<>?^/-._",
  "\u0000",
  "\u00a0",
  "\u2028",
  "\u200b",
  "é",
  "✓",
  "𝄞",
];
const PLAIN = [..."aZ09"];

/** Values that broke renderers or systemd before, and the words that mean something to them. */
const NOTORIOUS = [
  "",
  ";",
  "\\;",
  "$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that systemd must not expand
  "${PATH}",
  "$$",
  "%h",
  "%%",
  "%",
  "\\",
  "a\\",
  '"',
  "'",
  " ",
  " a ",
  "a b",
  "a\nb",
  "--privileged",
  "-",
  "NONE",
  "CMD",
  "cmd",
  "CMD-SHELL",
  "[]",
  '["x"]',
  "é",
  "\u{1F600}",
];

/** Text of any kind, hostile more often than not. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...PLAIN, ...SPECIAL), maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NOTORIOUS) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 400 }) },
);

const CONTAINER_KEYS = ["web", "db", "worker"];

/**
 * The arbitraries of one manifest, where an ordinary value is `ordinary` times as likely as a
 * hostile one: drawing that weight first gives nearly clean manifests (most of them valid, so the
 * renderers get exercised) as well as thoroughly hostile ones.
 */
function arbitraries(ordinary: number, withSecrets: boolean) {
  /** An ordinary value, or a hostile one once in `ordinary + 1` draws. */
  const sometimesHostile = <T>(plain: fc.Arbitrary<T>, hostile: fc.Arbitrary<T | string> = hostileText) =>
    fc.oneof({ weight: ordinary, arbitrary: plain }, { weight: 1, arbitrary: hostile });

  const word = fc.stringMatching(/^[a-z][a-z0-9._-]{0,6}$/);

  const plainPath = fc
    .array(word, { minLength: 1, maxLength: 3 })
    .map((segments) => `/${segments.join("/")}`);
  /** An absolute path: ordinary, or with hostile segments, or one of the paths that broke renderers. */
  const hostilePath: fc.Arbitrary<string> = sometimesHostile(
    plainPath,
    fc.oneof(
      fc
        .array(fc.oneof(word, hostileText), { minLength: 1, maxLength: 3 })
        .map((segments) => `/${segments.join("/")}`),
      fc.constantFrom(
        "/w\\",
        "/t:exec",
        "/run/secrets/a b",
        "/data:ro",
        "/a,b",
        "/x%h",
        "/$HOME",
        "/é/ü",
        '/a"b',
        "/a'b",
        "/a b/c",
        "/",
        "/data ",
      ),
    ),
  );

  /** Host addresses, in every form an address can be written in. */
  const BINDS = [
    "0.0.0.0",
    "127.0.0.1",
    "::",
    "::1",
    "0:0:0:0:0:0:0:0",
    "0000:0000:0000:0000:0000:0000:0000:0000",
    "::ffff:127.0.0.1",
    "::ffff:0.0.0.0",
    "::ffff:7f00:1",
    "::0.0.0.0",
    "0:0:0:0:0:0:0:1",
  ];

  const commandWords = fc.array(sometimesHostile(word), { minLength: 1, maxLength: 4 });

  const duration = sometimesHostile(
    fc.constantFrom<number | string>("10s", "2s", 30, "1m"),
    fc.constantFrom<number | string>("99999999999h", 1e12, "0.0001s", "1h", "25h", 0),
  );

  const health = fc.oneof(
    fc.record(
      {
        type: fc.constant("http"),
        port: fc.constant(80),
        path: sometimesHostile(
          fc.constantFrom("/", "/health"),
          hostileText.map((t) => `/${t}`),
        ),
        interval: duration,
        timeout: fc.constantFrom("1s", "5s"),
        start_period: duration,
      },
      { requiredKeys: ["type", "port"] },
    ),
    fc.record({ type: fc.constant("tcp"), port: fc.constant(80) }),
    fc.record({ type: fc.constant("exec"), command: commandWords }, { requiredKeys: ["type", "command"] }),
  );

  const environment = fc.dictionary(
    fc.constantFrom("A", "B_C", "PATH", "x1", "Z9"),
    fc.oneof(
      { weight: 6, arbitrary: hostileText },
      { weight: 1, arbitrary: fc.integer() },
      { weight: 1, arbitrary: fc.boolean() },
      { weight: withSecrets ? 1 : 0, arbitrary: fc.constant({ secret: "s1" }) },
    ),
    { maxKeys: 4 },
  );

  /** A port of the `index`th container: host ports differ between containers, so that they do not clash. */
  const port = (index: number) =>
    fc.record(
      {
        container: fc.constantFrom(80, 8080, 53),
        host: fc.constantFrom(18080 + 10 * index, 18081 + 10 * index),
        protocol: fc.constantFrom("tcp", "udp"),
        bind: fc.constantFrom(...BINDS),
      },
      { requiredKeys: ["container", "protocol"] },
    );

  const volume = fc.oneof(
    fc.record(
      {
        name: fc.constantFrom("data", "cache"),
        // Sometimes the directory of the secrets' files: two mounts there cannot share it in a pod.
        path: fc.oneof(
          { weight: 5, arbitrary: hostilePath },
          { weight: 1, arbitrary: fc.constant("/run/secrets") },
        ),
        read_only: fc.boolean(),
      },
      { requiredKeys: ["name", "path"] },
    ),
    fc.record({
      host_path: sometimesHostile(
        fc.constant("/srv/media"),
        hostilePath.map((p) => `/srv/media${p}`),
      ),
      permission: fc.constant("media"),
      path: hostilePath,
    }),
  );

  const user = sometimesHostile(
    fc.constantFrom("1000", "0", "1000:1000", "65534:65534", "0100"),
    fc.constantFrom(
      "4294967295",
      "4294967296",
      "65536",
      "2147483648",
      "99999999999999999999",
      "0:4294967295",
    ),
  );

  function container(key: string, others: string[], index: number) {
    return fc
      .record(
        {
          image: fc.constantFrom(
            "localhost/archy-test/busybox:1",
            "docker.io/library/nginx:1.27",
            "registry.example.org/team/app.image",
            "app.build",
          ),
          container_name: fc.constantFrom(`My_${key}`, `${key}.1`, `x-${key}`),
          entrypoint: commandWords,
          command: commandWords,
          working_dir: hostilePath,
          environment,
          ports: fc.uniqueArray(port(index), {
            maxLength: 2,
            selector: (p) => `${p.container}/${p.protocol}`,
          }),
          volumes: fc.array(volume, { maxLength: 2 }),
          secrets: fc.uniqueArray(
            fc
              .record({
                secret: fc.constantFrom("s1", "s2"),
                // A directory to complete with the secret's name, or any path.
                target: sometimesHostile(fc.constantFrom("/run/secrets/", "/"), hostilePath),
              })
              .map((file) =>
                file.target.endsWith("/") ? { ...file, target: `${file.target}${file.secret}` } : file,
              ),
            { maxLength: withSecrets ? 2 : 0, selector: (file) => file.secret },
          ),
          devices: fc.array(
            fc.record(
              { permission: fc.constant("dev"), path: hostilePath },
              { requiredKeys: ["permission"] },
            ),
            {
              maxLength: 1,
            },
          ),
          user,
          data_uid: fc.constantFrom(0, 1000, 65534),
          capabilities: fc.subarray(["CHOWN", "NET_BIND_SERVICE", "SETUID"]),
          read_only: fc.boolean(),
          tmpfs: fc.array(hostilePath, { maxLength: 2 }),
          stop_timeout: fc.constantFrom<number | string>(1, "30s", "10m"),
          stop_signal: fc.constantFrom("SIGTERM", "SIGINT", "SIGRTMIN+3", "SIGUSR1"),
          memory: sometimesHostile(
            fc.constantFrom<number | string>("512m", "6m", "1g", "1.5g", 104857600),
            fc.constantFrom<number | string>("99999999999g", "0.5k", 9007199254740991, "1e3m"),
          ),
          aliases: fc.subarray([`${key}-api`, `${key}-1`]),
          depends_on: fc.subarray(others).map((keys) => Object.fromEntries(keys.map((k) => [k, "started"]))),
          health,
        },
        {
          requiredKeys: ["image", "data_uid"],
        },
      )
      .map((spec) => {
        // A health check of a port the container does not list is refused: probe one it lists.
        const http = spec.health as { type: string; port?: number } | undefined;
        if (http && http.type !== "exec") {
          const tcp = (spec.ports ?? []).find((p) => (p.protocol ?? "tcp") === "tcp");
          if (tcp) http.port = tcp.container;
          else delete spec.health;
        }
        return spec;
      });
  }

  return { sometimesHostile, hostilePath, container };
}

/** A manifest with hostile values here and there, as the data a YAML file holds; `id` is the caller's. */
export const hostileManifest = fc
  .tuple(
    fc.constantFrom(3, 10, 40),
    fc.uniqueArray(fc.constantFrom(...CONTAINER_KEYS), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .chain(([ordinary, keys, withSecrets]) => {
    const { sometimesHostile, hostilePath, container } = arbitraries(ordinary, withSecrets);
    return fc.record({
      secrets: fc.constant(withSecrets ? { s1: {}, s2: { type: "hex", length: 16 } } : {}),
      name: sometimesHostile(fc.constantFrom("App", "My app")),
      containers: fc
        .tuple(...keys.map((key, i) => container(key, keys.slice(0, i), i)))
        .map((specs) => Object.fromEntries(keys.map((key, i) => [key, specs[i]]))),
      permissions: fc.record({
        media: fc.record({
          kind: fc.constant("host-path"),
          path: sometimesHostile(
            fc.constant("/srv/media"),
            hostilePath.map((p) => `/srv/media${p}`),
          ),
          reason: fc.constant("media files"),
        }),
        dev: fc.record({
          kind: fc.constant("device"),
          path: sometimesHostile(
            fc.constantFrom("/dev/ttyUSB0", "/dev/ttyACM0"),
            fc.constantFrom("/dev/x:rwm", "/dev/a b", "/dev/tty%h", "/dev/tty,x"),
          ),
          reason: fc.constant("a serial port"),
        }),
      }),
    });
  })
  .map((parts) => ({
    manifest: 1,
    version: "1.0.0",
    description: "Hostile values here and there",
    ...parts,
  }));

/** A drawn manifest as the YAML text a file holds, and what the validator says of it. */
export type HostileCase = { index: number; text: string; result: ParseResult };

/**
 * `runs` manifests drawn with `seed`, as YAML validated by the real parser. Ids and explicit
 * container names are unique across them and carry `tag` (a run's own prefix keeps them apart from
 * other runs'), so that their units and containers can live side by side; every fifth id is as
 * long as an id can be.
 */
export function hostileCases(seed: number, runs: number, tag = "fz"): HostileCase[] {
  return fc.sample(hostileManifest, { seed, numRuns: runs }).map((data, index) => {
    for (const spec of Object.values(data.containers) as Array<{ container_name?: string }>)
      if (spec.container_name) spec.container_name += `-${tag}${index}`;
    const long = `${tag}-${"y".repeat(40)}`.slice(0, 40 - String(index).length);
    const id = index % 5 === 0 ? `pub-${"x".repeat(36)}.${long}${index}` : `${tag}${index}`;
    const text = YAML.stringify({ ...data, id });
    return { index, text, result: parseManifest(text, `fuzz-${index}.yml`) };
  });
}
