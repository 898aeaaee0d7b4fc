/**
 * Every rendered Quadlet unit of every sample goes through the real Quadlet generator (Debian 13's,
 * Podman 5.4) in dry-run mode: no error, no warning, and the generated `podman run` has the
 * arguments the manifest asks for. The ExecStart= lines are split and unescaped as systemd does, so
 * values survive the trip through Quadlet and systemd exactly (`$`, `%`, quotes, spaces, newlines).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LABELS } from "../../src/manifest/naming.ts";
import type { Manifest } from "../../src/manifest/schema.ts";
import { healthTest } from "../../src/render/health.ts";
import { podmanPlan } from "../../src/render/podman-spec.ts";
import { renderQuadlet } from "../../src/render/quadlet.ts";
import { podmanHealthTest } from "../support/podman-cli.ts";
import {
  complaints,
  execStart,
  flag,
  type Generated,
  parseUnits,
  runGenerator,
  type Unit,
} from "../support/quadlet.ts";
import { contextFor, loadSamples, SAMPLE_IDS } from "../support/samples.ts";

let samples: Record<string, Manifest>;
let dir: string;
let generated: Generated;
let units: Map<string, Unit>;

before(async () => {
  samples = await loadSamples();
  dir = await mkdtemp(join(tmpdir(), "archy-quadlet-"));
  for (const id of SAMPLE_IDS) {
    const m = samples[id] as Manifest;
    for (const file of renderQuadlet(m, contextFor(m, samples)))
      await writeFile(join(dir, file.path), file.content);
  }
  generated = await runGenerator(dir);
  units = parseUnits(generated.stdout);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("Quadlet generator (dry run)", () => {
  test("accepts every unit without error or warning", () => {
    assert.equal(generated.code, 0, generated.stderr);
    assert.deepEqual(complaints(generated), [], "the generator printed errors or warnings");
    assert.doesNotMatch(generated.stdout + generated.stderr, /unsupported key|converting "/);
  });

  test("generates a service for every network, volume and container", () => {
    const expected = SAMPLE_IDS.flatMap((id) => {
      const m = samples[id] as Manifest;
      return renderQuadlet(m, contextFor(m, samples)).map((f) =>
        f.path.replace(/\.(network|volume|container)$/, (_, kind) =>
          kind === "container" ? ".service" : `-${kind}.service`,
        ),
      );
    }).sort();
    assert.deepEqual([...units.keys()].sort(), expected);
  });

  for (const id of SAMPLE_IDS)
    test(`${id}: the podman run arguments match the manifest`, () => {
      const m = samples[id] as Manifest;
      const plan = podmanPlan(m, contextFor(m, samples));
      for (const c of plan.containers) {
        const unit = units.get(`${c.name}.service`);
        const argv = execStart(unit);
        const spec = m.containers[c.key] as Manifest["containers"][string];
        assert.deepEqual(argv.slice(0, 2), ["/usr/bin/podman", "run"]);
        assert.deepEqual(flag(argv, "--name"), [c.name]);
        const labels = Object.fromEntries(flag(argv, "--label").map((l) => l.split(/=(.*)/s).slice(0, 2)));
        assert.deepEqual(labels, c.body.labels, "labels, spec hash included");
        assert.equal(labels[LABELS.specHash], c.hash);
        assert.deepEqual(flag(argv, "--cap-drop"), ["all"]);
        assert.deepEqual(flag(argv, "--cap-add"), spec.capabilities.map((cap) => cap.toLowerCase()).sort());
        assert.ok(flag(argv, "--security-opt").includes("no-new-privileges"));
        assert.equal(argv.includes("--read-only"), spec.read_only);
        const networks = flag(argv, "--network").map((n) => n.split(":")[0]);
        assert.deepEqual(
          networks,
          Object.keys(c.body.Networks),
          "the app network (and dependencies' networks)",
        );
        assert.deepEqual(flag(argv, "--add-host"), c.body.hostadd ?? [], "hosts entries for dependencies");
        const fixed = Object.values(c.body.Networks)[0]?.static_ips?.[0];
        if (fixed) assert.match(flag(argv, "--network")[0] ?? "", new RegExp(`:(.*,)?ip=${fixed}(,|$)`));
        assert.deepEqual(
          Object.fromEntries(flag(argv, "--env").map((e) => e.split(/=(.*)/s).slice(0, 2))),
          c.body.env,
          "environment values survive quoting",
        );
        assert.deepEqual(
          flag(argv, "--secret")
            .map((s) => s.split(",")[0])
            .sort(),
          [...Object.values(c.body.secret_env ?? {}), ...(c.body.secrets ?? []).map((s) => s.Source)].sort(),
        );
        assert.deepEqual(
          flag(argv, "--publish").sort(),
          (c.body.portmappings ?? [])
            .map((p) => `${p.host_ip}:${p.host_port}:${p.container_port}/${p.protocol}`)
            .sort(),
        );
        if (spec.entrypoint)
          assert.deepEqual(JSON.parse(flag(argv, "--entrypoint")[0] ?? "null"), spec.entrypoint);
        const image = argv.lastIndexOf(spec.image);
        assert.ok(image > 0, "the image is an argument");
        assert.deepEqual(argv.slice(image + 1), spec.command ?? [], "the command survives quoting");
        if (spec.health) {
          const [kind, ...rest] = healthTest(spec.health);
          const cmd = flag(argv, "--health-cmd")[0] ?? "";
          if (kind === "CMD") assert.deepEqual(JSON.parse(cmd), rest);
          else assert.equal(cmd, rest[0], "the health probe survives quoting");
        }
        if (spec.memory !== undefined) assert.ok(argv.includes(`--memory=${spec.memory}`));
        const service = unit?.get("Service") ?? [];
        assert.ok(!service.some((l) => l.startsWith("Restart=")), "no Restart=: the daemon decides");
        assert.deepEqual(unit?.get("Install"), ["WantedBy=default.target"]);
        const requires = (unit?.get("Unit") ?? []).filter(
          (l) => l.startsWith("Requires=") && !/-(network|volume)\.service$/.test(l),
        );
        assert.deepEqual(
          requires,
          Object.keys(spec.depends_on)
            .sort()
            .map((dep) => `Requires=${plan.containers.find((x) => x.key === dep)?.name}.service`),
        );
        for (const [dep, condition] of Object.entries(spec.depends_on))
          if (condition === "healthy") {
            const depName = plan.containers.find((x) => x.key === dep)?.name;
            assert.deepEqual(flag(execStart(units.get(`${depName}.service`)), "--sdnotify"), ["healthy"]);
          }
      }
      const volumes = plan.volumes.map((v) => execStart(units.get(`${v.Name}-volume.service`)));
      for (const [i, v] of plan.volumes.entries())
        assert.deepEqual(volumes[i], [
          "/usr/bin/podman",
          "volume",
          "create",
          "--ignore",
          "--opt",
          `device=${v.Options.device}`,
          "--opt",
          "type=none",
          "--opt",
          "o=bind",
          "--label",
          `io.archipelago.app=${id}`,
          "--label",
          "io.archipelago.owner=archipelago",
          v.Name,
        ]);
      const network = execStart(units.get(`${plan.network.name}-network.service`));
      assert.equal(network.at(-1), plan.network.name);
    });
});

describe("Quadlet escaping", () => {
  const tricky: Record<string, string> = {
    SPACES: "a b  c",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that systemd must not expand
    DOLLAR: "$HOME and ${PATH} and $$",
    PERCENT: "100% %h %n %%",
    QUOTES: `say "hi" and 'bye'`,
    BACKSLASH: "C:\\path\\to\\ and \\n literally",
    NEWLINE: "line one\nline two",
    TAB: "a\tb",
    EMPTY: "",
    UNICODE: "grüße — ✓",
  };

  test("values with $, %, quotes, backslashes and line breaks reach podman unchanged", async () => {
    const base = structuredClone((await loadSamples())["hello-web"] as Manifest);
    const web = base.containers.web as Manifest["containers"][string];
    // A manifest writes a literal ${ as $${ (interpolation.ts); the process sees ${.
    web.environment = Object.fromEntries(
      Object.entries(tricky).map(([name, value]) => [name, value.replaceAll("${", () => "$${")]),
    );
    web.command = Object.values(tricky);
    const own = await mkdtemp(join(tmpdir(), "archy-quadlet-escape-"));
    try {
      for (const file of renderQuadlet(base, { dataRoot: "/srv/100% data/$x", dependencies: {} }))
        await writeFile(join(own, file.path), file.content);
      const result = await runGenerator(own);
      assert.equal(result.code, 0, result.stderr);
      const argv = execStart(parseUnits(result.stdout).get("hello-web.service"));
      assert.deepEqual(
        Object.fromEntries(flag(argv, "--env").map((e) => e.split(/=(.*)/s).slice(0, 2))),
        tricky,
      );
      assert.deepEqual(argv.slice(argv.lastIndexOf(web.image) + 1), web.command);
      const volume = execStart(parseUnits(result.stdout).get("archy-hello-web_content-volume.service"));
      assert.ok(volume.includes("device=/srv/100% data/$x/apps/hello-web/volumes/content"));
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  test("an empty argument and a lone ; reach podman whole, through variables systemd expands to one argument each", async () => {
    const m = structuredClone((await loadSamples())["hello-web"] as Manifest);
    // Quadlet would drop the empty word and every one after it; systemd would start a second command at the `;`.
    const command = ["find", "/data", "-name", "", "-exec", "rm", "{}", ";"];
    (m.containers.web as Manifest["containers"][string]).command = command;
    const own = await mkdtemp(join(tmpdir(), "archy-quadlet-stand-in-"));
    try {
      const files = renderQuadlet(m, { dataRoot: "/data", dependencies: {} });
      const unit = files.find((f) => f.path === "hello-web.container")?.content ?? "";
      assert.match(unit, /^Exec=find \/data -name \$\{ARCHY_EMPTY\} -exec rm "\{\}" \$\{ARCHY_SEMICOLON\}$/m);
      assert.match(unit, /^Environment=ARCHY_EMPTY=$/m);
      assert.match(unit, /^Environment=ARCHY_SEMICOLON=;$/m);
      for (const file of files) await writeFile(join(own, file.path), file.content);
      const result = await runGenerator(own);
      assert.deepEqual(complaints(result), []);
      const argv = execStart(parseUnits(result.stdout).get("hello-web.service"));
      assert.deepEqual(argv.slice(argv.lastIndexOf("localhost/archy-test/busybox:1") + 1), command);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  test("a health command Podman would misread as a list (one word, or a first word CMD, CMD-SHELL or NONE) reaches it as an exec check", async () => {
    const m = structuredClone((await loadSamples())["hello-web"] as Manifest);
    const web = m.containers.web as Manifest["containers"][string];
    const own = await mkdtemp(join(tmpdir(), "archy-quadlet-health-"));
    try {
      for (const command of [["/healthcheck"], ["NONE"], ["cmd-shell", "-x"], ["pg_isready", "-U", "a b"]]) {
        web.health = { type: "exec", command, interval: 10_000, timeout: 5000, retries: 3, start_period: 0 };
        for (const file of renderQuadlet(m, { dataRoot: "/data", dependencies: {} }))
          await writeFile(join(own, file.path), file.content);
        const result = await runGenerator(own);
        const argv = execStart(parseUnits(result.stdout).get("hello-web.service"));
        assert.deepEqual(
          flag(argv, "--health-cmd").map(podmanHealthTest),
          [["CMD", ...command]],
          command.join(" "),
        );
      }
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  test("shm_size, ulimits and a value with a secret in it reach podman run as the plain backend's spec has them", async () => {
    const m = structuredClone((await loadSamples())["hello-web"] as Manifest);
    const web = m.containers.web as Manifest["containers"][string];
    web.shm_size = 96 * 1024 * 1024;
    web.ulimits = { nofile: { soft: 512, hard: 1024 }, core: { soft: 0, hard: 0 } };
    m.secrets = { token: { type: "hex", length: 32 } };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a manifest's reference
    web.environment = { ...web.environment, URL: "https://u:${secret:token}@example.org/" };
    const own = await mkdtemp(join(tmpdir(), "archy-quadlet-limits-"));
    try {
      const ctx = { dataRoot: "/data", dependencies: {} };
      for (const file of renderQuadlet(m, ctx)) await writeFile(join(own, file.path), file.content);
      const result = await runGenerator(own);
      assert.equal(result.code, 0, result.stderr);
      const argv = execStart(parseUnits(result.stdout).get("hello-web.service"));
      assert.ok(argv.includes("--shm-size=100663296"), argv.join(" "));
      assert.ok(
        argv.includes("--ulimit=core=0:0") && argv.includes("--ulimit=nofile=512:1024"),
        argv.join(" "),
      );
      const secret = podmanPlan(m, ctx).containers[0]?.body.secret_env?.URL;
      assert.match(secret ?? "", /^archy-hello-web_env\.[0-9a-f]{8}$/);
      assert.ok(flag(argv, "--secret").includes(`${secret},type=env,target=URL`), argv.join(" "));
      assert.ok(!argv.some((word) => word.includes("example.org")), "the value is not on the command line");
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});
