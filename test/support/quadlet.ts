/**
 * The real Quadlet generator (Debian 13's, Podman 5.4) and systemd's own reading of what it
 * generates, for tests: run the generator on a directory of rendered units, read the generated
 * services, split their ExecStart= lines into argv exactly as systemd does, and have
 * `systemd-analyze verify` check the generated services.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { QUADLET_GENERATOR } from "../../src/host/layout.ts";

/** Until host setup installs the generator, the copy unpacked from Debian 13's package. */
const FALLBACK_GENERATOR = "/var/cache/archipelago/apt-trixie/root/usr/libexec/podman/quadlet";
const generator = [QUADLET_GENERATOR, FALLBACK_GENERATOR].find((path) => existsSync(path));

export type Generated = { stdout: string; stderr: string; code: number };

function run(file: string, args: string[], env: Record<string, string>): Promise<Generated> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 120_000, maxBuffer: 256 << 20 },
      (error, stdout, stderr) =>
        resolve({ stdout, stderr, code: error ? (typeof error.code === "number" ? error.code : 1) : 0 }),
    );
  });
}

function generatorPath(): string {
  if (!generator)
    throw new Error(
      `no Quadlet generator at ${QUADLET_GENERATOR} (or ${FALLBACK_GENERATOR}): run \`archy doctor --fix\``,
    );
  return generator;
}

/** The generator in dry-run mode on the units of `dir`: the generated services on stdout. */
export function runGenerator(dir: string): Promise<Generated> {
  return run(generatorPath(), ["-dryrun"], { QUADLET_UNIT_DIRS: dir });
}

/** The generator on the units of `dir`, writing the generated services into `out`. */
export async function generateInto(
  dir: string,
  out: string,
): Promise<{ run: Generated; services: string[] }> {
  const generated = await run(generatorPath(), [out], { QUADLET_UNIT_DIRS: dir });
  const services = (await readdir(out)).filter((name) => name.endsWith(".service")).sort();
  return { run: generated, services };
}

/** The generator's complaints: every stderr line but its progress lines. */
export function complaints(generated: Generated): string[] {
  return generated.stderr.split("\n").filter((l) => l.trim() !== "" && !/Loading source unit file /.test(l));
}

/**
 * `systemd-analyze verify` of generated services (system mode, which needs no user manager): their
 * syntax, settings and command lines as systemd loads them. Returns each problem line it printed.
 */
export async function verifyServices(out: string, services: string[]): Promise<Generated> {
  return run("systemd-analyze", ["verify", ...services.map((name) => join(out, name))], {});
}

/** A unit file: section name to its key=value lines. */
export type Unit = Map<string, string[]>;

/** The sections of one unit file. */
export function parseUnit(text: string): Unit {
  const sections: Unit = new Map();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1] as string, current);
    } else if (line !== "" && !line.startsWith("#") && current) current.push(line);
  }
  return sections;
}

/** The generated units of a dry run by name (`notes-web.service`). */
export function parseUnits(stdout: string): Map<string, Unit> {
  const units = new Map<string, Unit>();
  const parts = stdout.split(/^---(.+)---$/m);
  for (let i = 1; i < parts.length; i += 2) units.set(parts[i] as string, parseUnit(parts[i + 1] ?? ""));
  return units;
}

/** The generated services written by `generateInto`, by name. */
export async function readUnits(out: string, services: string[]): Promise<Map<string, Unit>> {
  const units = new Map<string, Unit>();
  for (const name of services) units.set(name, parseUnit(await readFile(join(out, name), "utf8")));
  return units;
}

const CUNESCAPE: Record<string, string> = {
  a: "\u0007",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  s: " ",
  "\\": "\\",
  '"': '"',
  "'": "'",
  " ": " ",
};

/** Placeholder for a `%%` while a line is split (a private-use character no test value holds). */
const PERCENT = "\uE000";

/**
 * `Environment=` assignments of a [Service] section, as systemd reads them (quoted words, C
 * escapes): what `${NAME}` expands to in its command lines.
 */
export function serviceEnvironment(unit: Unit | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit?.get("Service") ?? [])
    if (line.startsWith("Environment="))
      for (const word of splitWords(line.slice("Environment=".length)))
        env[word.slice(0, word.indexOf("="))] = word.slice(word.indexOf("=") + 1);
  return env;
}

/**
 * Words as systemd's extract_first_word() with unquoting and C unescaping gives them. In a command
 * line (`command`), fails on a lone unquoted `;`, which systemd reads as the start of another command.
 */
function splitWords(line: string, command = false): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " ") i++;
    if (i >= line.length) break;
    if (command)
      assert.ok(
        !(line[i] === ";" && (i + 1 === line.length || line[i + 1] === " ")),
        `systemd would read a lone ; as a second command in ${line}`,
      );
    let word = "";
    let quote: string | undefined;
    for (; i < line.length; i++) {
      const c = line[i] as string;
      if (quote === undefined && c === " ") break;
      if (c === '"' || c === "'") {
        if (quote === undefined) quote = c;
        else if (quote === c) quote = undefined;
        else word += c;
        continue;
      }
      if (c === "\\") {
        const next = line[++i] as string;
        if (next === "x") {
          word += String.fromCharCode(Number.parseInt(line.slice(i + 1, i + 3), 16));
          i += 2;
        } else if (/[0-7]/.test(next)) {
          word += String.fromCharCode(Number.parseInt(line.slice(i, i + 3), 8));
          i += 2;
        } else word += CUNESCAPE[next] ?? next;
        continue;
      }
      word += c;
    }
    assert.equal(quote, undefined, `unterminated quote in ${line}`);
    words.push(word);
  }
  return words;
}

/**
 * Splits an ExecStart= value into argv as systemd does: specifiers first (`%%` is a `%`), then
 * words with quotes and C escapes, then variables in each word (`$$` is a `$`, `${NAME}` the value
 * of NAME in `env`). Fails where systemd would do more: a lone `;` (a second command), a specifier
 * other than in Quadlet's own `--cidfile=`, a variable that `env` does not define, or a `$NAME`.
 */
export function systemdArgv(value: string, env: Record<string, string> = {}): string[] {
  const line = value.replace(/%%/g, PERCENT);
  return splitWords(line, true).map((word) => {
    if (!word.startsWith("--cidfile="))
      assert.doesNotMatch(word, /%/, `systemd would expand a specifier in ${JSON.stringify(word)}`);
    const variables = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\})/g;
    assert.doesNotMatch(
      word.replace(variables, ""),
      /\$/,
      `systemd would expand a variable in ${JSON.stringify(word)}`,
    );
    return word
      .replace(variables, (whole, dollar: string, name: string) => {
        if (dollar === "$") return "$";
        assert.ok(name in env, `systemd would expand the undefined ${whole} in ${JSON.stringify(word)}`);
        return env[name] as string;
      })
      .replaceAll(PERCENT, "%");
  });
}

/** Values of `--flag value` and `--flag=value` in argv. */
export function flag(argv: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) values.push(argv[++i] as string);
    else if (argv[i]?.startsWith(`${name}=`)) values.push((argv[i] as string).slice(name.length + 1));
  }
  return values;
}

/** The argv of a generated service's ExecStart=, with its own Environment= for `${NAME}`. */
export function execStart(unit: Unit | undefined): string[] {
  const line = unit?.get("Service")?.find((l) => l.startsWith("ExecStart="));
  assert.ok(line, "the generated service has an ExecStart=");
  return systemdArgv(line.slice("ExecStart=".length), serviceEnvironment(unit));
}
