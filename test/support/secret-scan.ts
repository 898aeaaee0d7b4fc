/**
 * The suite-wide secrets scan (SPEC invariant 4: generated secrets never reach logs or events).
 *
 * Collecting: every harness that runs platform code which generates secrets — the orchestrator
 * driver (`Lab`, test/support/driver.ts), the `archy daemon` of test/cli/operator-cli.test.ts and of
 * test/backup/, and the in-process daemons of test/api/ — owns a `ScanRecorder`. It appends what the platform produced to
 * the run's scan directory: log lines (and the operation logs, operation errors and app reasons left
 * in the store), events (the driver's event lines, the daemon's event stream), the generated secret
 * values it can read from `<state>/secrets/<app>/<name>` (and the daemon's CLI token, and the backup
 * targets' repository keys and credentials under `<data>/backup/targets/`), and the environment
 * `podman inspect` shows for the app containers.
 *
 * The directory is `$ARCHY_SCAN_DIR` (scripts/test sets it to a fresh temporary directory and runs
 * test/zz-secrets-scan.test.ts after the suite, in a second `node --test`); without it, each
 * process collects into a temporary directory of its own, removed when it exits. Files are 0600 in
 * 0700 directories: they hold secret values.
 *
 *   <dir>/logs/<kind>.<pid>.<n>.<label>.log      one log line per line
 *   <dir>/events/<kind>.<pid>.<n>.<label>.log    one event (JSON) per line
 *   <dir>/secrets/<kind>.<pid>.<n>.<label>.jsonl {"kind":"secret"|"cli-token"|"backup-key","app","name","value","source"}
 *   <dir>/podman/<kind>.<pid>.<n>.<label>.jsonl  {"container","app","key","podmanVersion","env":[…],"secretEnv":[…]}
 *
 * Scanning (`scanCollected`) looks for every secret value — as is, JSON-escaped, URL-encoded, hex,
 * and base64/base64url at each of the three byte alignments (so a secret inside a larger encoded
 * blob is found too) — in every collected log line and event, any run of MIN_SECRET_LENGTH
 * characters of these forms counting (`base64` wraps long values over several lines), and in the
 * containers' `Config.Env`.
 * It also counts the lines where the daemon masked a secret (`[secret APP/NAME]`): the run must
 * include output that carried a secret (test/orchestrator/hook-secrets.test.ts echoes them in hooks).
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import WebSocket from "ws";
import { parse as parseYaml } from "yaml";
import { parseEnvFile } from "../../src/manifest/env-file.ts";
import { parseTemplate } from "../../src/manifest/interpolation.ts";

export const SCAN_DIR_ENV = "ARCHY_SCAN_DIR";
/** Where the recorders of the harnesses come from: the scan asserts each one contributed. */
export type SourceKind = "orchestrator-driver" | "cli-daemon" | "api-daemon";
export const SOURCE_KINDS: readonly SourceKind[] = ["orchestrator-driver", "cli-daemon", "api-daemon"];
const CATEGORIES = ["logs", "events", "secrets", "podman"] as const;
type Category = (typeof CATEGORIES)[number];

/** Generated secrets are at least 12 characters (manifest schema); shorter needles would be noise. */
export const MIN_SECRET_LENGTH = 12;

let processDir: string | undefined;

/** The scan directory of this process: $ARCHY_SCAN_DIR, or a temporary one removed at exit. */
export function scanDir(): string {
  if (processDir) return processDir;
  const fromEnv = process.env[SCAN_DIR_ENV];
  let dir: string;
  if (fromEnv) dir = fromEnv;
  else {
    dir = mkdtempSync(join(tmpdir(), "archy-scan-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  processDir = dir;
  return dir;
}

export type SecretRecord = {
  kind: "secret" | "cli-token" | "backup-key";
  app?: string;
  name?: string;
  value: string;
  source: string;
};

export type PodmanRecord = {
  container: string;
  app?: string;
  key?: string;
  podmanVersion: string;
  env: string[];
  /**
   * Variables the app's manifest fills with a reference (`{secret}` or `{app, export}`), and
   * values with `${…}` references in them, which the daemon renders into a secret of their own.
   */
  secretEnv: string[];
};

const recorders = new Set<ScanRecorder>();
process.on("exit", () => {
  for (const recorder of recorders) recorder.flush();
});
let sequence = 0;

export type RecorderOptions = {
  /** `<state>/secrets`: one directory per app, one file per generated secret. */
  secretsRoot?: string;
  /** The daemon's CLI token file. */
  cliTokenFile?: string;
  /** `<data>/backup/targets`: each target's repository `key` and its `credentials.json` values. */
  backupTargetsRoot?: string;
  /** The scan directory (the process's by default; the scanner's own tests pass another). */
  dir?: string;
};

/** What one harness (a lab, a daemon) produced, appended to the scan directory. */
export class ScanRecorder {
  readonly kind: SourceKind;
  readonly label: string;
  readonly #files: Record<Category, string>;
  readonly #buffers: Record<"logs" | "events", string[]> = { logs: [], events: [] };
  #buffered = 0;
  #partial = "";
  readonly #options: RecorderOptions;
  readonly #seen = new Set<string>();
  #lastHarvest = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(kind: SourceKind, label: string, options: RecorderOptions = {}) {
    this.kind = kind;
    this.label = label.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60);
    this.#options = options;
    const dir = options.dir ?? scanDir();
    const base = `${kind}.${process.pid}.${++sequence}.${this.label}`;
    const files = {} as Record<Category, string>;
    for (const category of CATEGORIES) {
      mkdirSync(join(dir, category), { recursive: true, mode: 0o700 });
      files[category] = join(
        dir,
        category,
        `${base}.${category === "secrets" || category === "podman" ? "jsonl" : "log"}`,
      );
    }
    this.#files = files;
    recorders.add(this);
  }

  /** One log line (or several, separated by newlines). */
  log(text: string): void {
    for (const line of text.split("\n")) if (line !== "") this.#push("logs", line);
  }

  /** A stream of log output in chunks (a process's stdout/stderr): split into lines as it comes. */
  chunk(text: string): void {
    const joined = this.#partial + text;
    const end = joined.lastIndexOf("\n");
    if (end === -1) {
      this.#partial = joined;
      return;
    }
    this.#partial = joined.slice(end + 1);
    this.log(joined.slice(0, end));
  }

  /** One event (an object, or its JSON); also looks for new secrets soon (an event follows work). */
  event(event: unknown): void {
    this.#push("events", typeof event === "string" ? event : JSON.stringify(event));
    this.poke();
  }

  /** The log lines the platform left in a store: operation logs, operation errors, app reasons. */
  storeRecords(storePath: string): void {
    if (!existsSync(storePath)) return;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(storePath, { readOnly: true });
      const queries = [
        "SELECT message AS text FROM operation_logs ORDER BY operation_id, seq",
        "SELECT error AS text FROM operations WHERE error IS NOT NULL",
        "SELECT reason AS text FROM apps WHERE reason IS NOT NULL",
      ];
      for (const query of queries)
        for (const row of db.prepare(query).all() as Array<{ text: string }>)
          this.log(`store: ${String(row.text).replace(/\n/g, "\\n")}`);
    } catch (error) {
      process.stderr.write(`secret-scan: cannot read ${storePath}: ${(error as Error).message}\n`);
    } finally {
      db?.close();
    }
  }

  /** Reads the secret files again, at most every 100 ms (and once more after the last call). */
  poke(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#lastHarvest >= 100) {
      this.harvest();
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.harvest();
    }, 100);
    this.#timer.unref();
  }

  /** Records every secret value readable now that was not recorded yet. */
  harvest(): void {
    this.#lastHarvest = Date.now();
    const { secretsRoot, cliTokenFile, backupTargetsRoot } = this.#options;
    const found: SecretRecord[] = [];
    if (secretsRoot)
      for (const app of safeReaddir(secretsRoot))
        for (const name of safeReaddir(join(secretsRoot, app))) {
          if (name.includes(".tmp-")) continue;
          const value = safeRead(join(secretsRoot, app, name));
          if (value) found.push({ kind: "secret", app, name, value, source: this.label });
        }
    if (cliTokenFile) {
      const value = safeRead(cliTokenFile)?.trim();
      if (value) found.push({ kind: "cli-token", value, source: this.label });
    }
    if (backupTargetsRoot)
      for (const target of safeReaddir(backupTargetsRoot)) {
        const dir = join(backupTargetsRoot, target);
        const key = safeRead(join(dir, "key"))?.trim();
        if (key) found.push({ kind: "backup-key", name: `${target}/key`, value: key, source: this.label });
        const credentials = safeJson(safeRead(join(dir, "credentials.json")));
        if (credentials && typeof credentials === "object")
          for (const [name, value] of Object.entries(credentials))
            if (typeof value === "string" && value)
              found.push({ kind: "backup-key", name: `${target}/${name}`, value, source: this.label });
      }
    for (const record of found) {
      const key = `${record.kind}/${record.app}/${record.name}\0${record.value}`;
      if (this.#seen.has(key)) continue;
      this.#seen.add(key);
      appendFileSync(this.#files.secrets, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    }
  }

  /** What `podman inspect` showed of a container's environment. */
  podman(record: PodmanRecord): void {
    appendFileSync(this.#files.podman, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }

  flush(): void {
    for (const category of ["logs", "events"] as const) {
      const lines = this.#buffers[category];
      if (lines.length === 0) continue;
      appendFileSync(this.#files[category], `${lines.join("\n")}\n`, { mode: 0o600 });
      lines.length = 0;
    }
    this.#buffered = 0;
  }

  /** The last harvest and flush; the recorder takes nothing after this. */
  close(): void {
    if (this.#closed) return;
    if (this.#partial !== "") this.log(this.#partial);
    this.#partial = "";
    if (this.#timer) clearTimeout(this.#timer);
    this.harvest();
    this.flush();
    this.#closed = true;
    recorders.delete(this);
  }

  #push(category: "logs" | "events", line: string): void {
    this.#buffers[category].push(line);
    this.#buffered += line.length;
    if (this.#buffered > 64 * 1024) this.flush();
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Subscribes to a daemon's event stream (`/ws/v1`, loopback, the CLI token) and records every
 * message; `onEvent` sees each one too. Returns a function that closes the stream.
 */
export function recordEventStream(
  url: string,
  token: string,
  recorder: ScanRecorder,
  onEvent: (event: { type?: string; appId?: string; phase?: string }) => void = () => {},
): { opened: Promise<void>; close: () => Promise<void> } {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/ws/v1`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const opened = new Promise<void>((resolve) => {
    socket.once("open", () => resolve());
    socket.once("error", () => resolve());
  });
  socket.on("error", () => {});
  socket.on("message", (data) => {
    const text = String(data);
    recorder.event(text);
    try {
      onEvent(JSON.parse(text));
    } catch {}
  });
  return {
    opened,
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      socket.terminate();
    },
  };
}

/** A value with a `${secret:…}`, `${export:…}` or a consumer secret (`${consumer:APP/NAME}` but `name`) in it (interpolation.ts). */
function isTemplate(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const parts = parseTemplate(value);
  return (
    Array.isArray(parts) &&
    parts.some(
      (p) => p.kind === "secret" || p.kind === "export" || (p.kind === "consumer" && p.value !== "name"),
    )
  );
}

/**
 * The environment variables of a stored manifest's container that the platform fills from a
 * reference (a generated secret or another app's export), whether in its `environment` or in one
 * of its `env_file`s (`envFiles`: their stored text by path): on Podman before 5.3 these are the
 * `type=env` secrets `podman inspect` shows in clear (containers/podman#23788).
 */
export function referencedEnv(
  manifestText: string,
  containerKey: string,
  envFiles: Readonly<Record<string, string>> = {},
): string[] {
  try {
    const doc = parseYaml(manifestText) as {
      containers?: Record<string, { environment?: Record<string, unknown>; env_file?: unknown }>;
    };
    const container = doc.containers?.[containerKey];
    const fromEnvironment = Object.entries(container?.environment ?? {})
      .filter(([, value]) => (typeof value === "object" && value !== null) || isTemplate(value))
      .map(([name]) => name);
    const paths = Array.isArray(container?.env_file) ? container.env_file : [container?.env_file];
    const fromFiles = paths
      .flatMap((path) =>
        typeof path === "string" && envFiles[path] ? parseEnvFile(envFiles[path]).entries : [],
      )
      .filter((entry) => isTemplate(entry.value))
      .map((entry) => entry.name);
    return [...new Set([...fromEnvironment, ...fromFiles])];
  } catch {
    return [];
  }
}

/** An app's installed manifest in a store and the env_files stored with it (text by path), or undefined. */
export function storedManifest(
  storePath: string,
  appId: string,
): { text: string; envFiles: Record<string, string> } | undefined {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(storePath, { readOnly: true });
    const row = db.prepare("SELECT manifest_text, manifest_hash FROM apps WHERE id = ?").get(appId) as
      | { manifest_text: string; manifest_hash: string }
      | undefined;
    if (!row) return undefined;
    const files = db
      .prepare("SELECT path, text FROM env_files WHERE app_id = ? AND manifest_hash = ?")
      .all(appId, row.manifest_hash) as Array<{ path: string; text: string }>;
    return { text: row.manifest_text, envFiles: Object.fromEntries(files.map((f) => [f.path, f.text])) };
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** True for Podman versions that mask env secrets in `podman inspect` (5.3 and later). */
export function podmanMasksEnvSecrets(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 5 || (major === 5 && minor >= 3);
}

// ================================================================ scanning

export type Needle = { text: string; form: string; secret: SecretRecord };

/**
 * The forms of a value to look for: itself, JSON-escaped, URL-encoded (component and form), hex
 * (either case), and base64 and base64url at byte offsets 0, 1 and 2 inside a larger blob (the
 * characters that depend on the value alone), so a secret encoded on its own or inside an encoded
 * document is found.
 */
export function encodedForms(value: string): Array<{ form: string; text: string }> {
  const forms: Array<{ form: string; text: string }> = [{ form: "plain", text: value }];
  const json = JSON.stringify(value).slice(1, -1);
  if (json !== value) forms.push({ form: "json-escaped", text: json });
  const hex = Buffer.from(value, "utf8").toString("hex");
  forms.push({ form: "hex", text: hex }, { form: "upper-case hex", text: hex.toUpperCase() });
  const url = encodeURIComponent(value);
  if (url !== value) forms.push({ form: "url-encoded", text: url });
  const formEncoded = new URLSearchParams({ x: value }).toString().slice(2);
  if (formEncoded !== value && formEncoded !== url) forms.push({ form: "form-encoded", text: formEncoded });
  const bytes = Buffer.from(value, "utf8");
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString("base64")
      .replace(/=+$/, "");
    // Drop the leading group that mixes in the padding bytes, and a trailing character that would
    // mix in whatever follows the value.
    const start = offset === 0 ? 0 : 4;
    const total = offset + bytes.length;
    const end = total % 3 === 0 ? encoded.length : encoded.length - 1;
    const core = encoded.slice(start, end);
    if (core.length < MIN_SECRET_LENGTH) continue;
    forms.push({ form: `base64@${offset}`, text: core });
    const urlSafe = core.replace(/\+/g, "-").replace(/\//g, "_");
    if (urlSafe !== core) forms.push({ form: `base64url@${offset}`, text: urlSafe });
  }
  return forms;
}

/** The forms of `value` (see encodedForms) of which a run of MIN_SECRET_LENGTH characters is in `text`. */
export function formsIn(text: string, value: string): string[] {
  return encodedForms(value)
    .filter(({ text: form }) => {
      for (let at = 0; at + MIN_SECRET_LENGTH <= form.length; at++)
        if (text.includes(form.slice(at, at + MIN_SECRET_LENGTH))) return true;
      return false;
    })
    .map(({ form }) => form);
}

export type Hit = { file: string; line: number; secret: string; form: string; excerpt: string };
export type PodmanHit = { container: string; variable: string; secret: string; accepted: boolean };

export type ScanResult = {
  files: { logs: number; events: number };
  lines: Record<SourceKind, { logs: number; events: number }>;
  secrets: {
    generated: number;
    cliTokens: number;
    /** Backup repository keys and target credentials. */
    backupKeys: number;
    bySource: Record<SourceKind, number>;
    tooShort: number;
  };
  podman: { containers: number; versions: string[]; hits: PodmanHit[] };
  hits: Hit[];
  /** Lines and events in which the platform masked a secret (`[secret APP/NAME]`), by harness. */
  masked: Record<SourceKind, number>;
};

/** What the daemon writes in place of a secret (src/orchestrator/secret-mask.ts). */
const MASKED = /\[secret [^\]\s]+\/[^\]\s]+\]/;

/** A secret for a failure message: its owner and the first characters of its value. */
export function describeSecret(secret: SecretRecord): string {
  const owner =
    secret.kind === "secret"
      ? `${secret.app}/${secret.name}`
      : secret.kind === "backup-key"
        ? `backup target ${secret.name}`
        : "CLI token";
  return `${owner} (${secret.value.slice(0, 3)}…, from ${secret.source})`;
}

function kindOf(file: string): SourceKind | undefined {
  return SOURCE_KINDS.find((kind) => file.startsWith(`${kind}.`));
}

function readJsonLines<T>(dir: string): Array<{ file: string; record: T }> {
  const out: Array<{ file: string; record: T }> = [];
  for (const file of safeReaddir(dir).sort())
    for (const line of (safeRead(join(dir, file)) ?? "").split("\n"))
      if (line.trim() !== "") out.push({ file, record: JSON.parse(line) as T });
  return out;
}

/** Scans everything collected in `dir` for every collected secret value. */
export function scanCollected(dir: string): ScanResult {
  const emptyCounts = () =>
    Object.fromEntries(SOURCE_KINDS.map((kind) => [kind, { logs: 0, events: 0 }])) as ScanResult["lines"];
  const result: ScanResult = {
    files: { logs: 0, events: 0 },
    lines: emptyCounts(),
    secrets: {
      generated: 0,
      cliTokens: 0,
      backupKeys: 0,
      bySource: Object.fromEntries(SOURCE_KINDS.map((kind) => [kind, 0])) as Record<SourceKind, number>,
      tooShort: 0,
    },
    podman: { containers: 0, versions: [], hits: [] },
    hits: [],
    masked: Object.fromEntries(SOURCE_KINDS.map((kind) => [kind, 0])) as Record<SourceKind, number>,
  };

  // The secrets, one entry per distinct value.
  const byValue = new Map<string, SecretRecord>();
  for (const { file, record } of readJsonLines<SecretRecord>(join(dir, "secrets"))) {
    if (record.value.length < MIN_SECRET_LENGTH) {
      result.secrets.tooShort++;
      continue;
    }
    const kind = kindOf(file);
    if (byValue.has(record.value)) continue;
    byValue.set(record.value, record);
    if (record.kind === "secret") {
      result.secrets.generated++;
      if (kind) result.secrets.bySource[kind]++;
    } else if (record.kind === "backup-key") result.secrets.backupKeys++;
    else result.secrets.cliTokens++;
  }
  const needles: Needle[] = [];
  for (const secret of byValue.values())
    for (const { form, text } of encodedForms(secret.value)) needles.push({ text, form, secret });
  /** Every run of MIN_SECRET_LENGTH characters of every needle. */
  const runs = new Map<string, Needle>();
  for (const needle of needles)
    for (let at = 0; at + MIN_SECRET_LENGTH <= needle.text.length; at++) {
      const run = needle.text.slice(at, at + MIN_SECRET_LENGTH);
      if (!runs.has(run)) runs.set(run, needle);
    }

  // Every log line and event.
  for (const category of ["logs", "events"] as const) {
    const categoryDir = join(dir, category);
    for (const file of safeReaddir(categoryDir).sort()) {
      const text = safeRead(join(categoryDir, file)) ?? "";
      result.files[category]++;
      const kind = kindOf(file);
      const lines = text.split("\n").filter((line) => line !== "");
      if (kind) {
        result.lines[kind][category] += lines.length;
        result.masked[kind] += lines.filter((line) => MASKED.test(line)).length;
      }
      // Any run of MIN_SECRET_LENGTH characters of a form is a leak (base64 wraps long values over
      // lines); a stretch of such runs is one hit.
      for (let at = 0; at + MIN_SECRET_LENGTH <= text.length; ) {
        const needle = runs.get(text.slice(at, at + MIN_SECRET_LENGTH));
        if (!needle) {
          at++;
          continue;
        }
        let end = at + MIN_SECRET_LENGTH;
        for (let next = at + 1; next <= end && next + MIN_SECRET_LENGTH <= text.length; next++)
          if (runs.has(text.slice(next, next + MIN_SECRET_LENGTH))) end = next + MIN_SECRET_LENGTH;
        const lineStart = text.lastIndexOf("\n", at) + 1;
        const lineEnd = text.indexOf("\n", at);
        const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
        result.hits.push({
          file: `${category}/${file}`,
          line: text.slice(0, at).split("\n").length,
          secret: describeSecret(needle.secret),
          form: needle.form,
          excerpt: `${line.slice(0, at - lineStart)}<SECRET>${line.slice(end - lineStart)}`.slice(0, 400),
        });
        at = end;
      }
    }
  }

  // What Podman shows of the containers' environment.
  const versions = new Set<string>();
  for (const { record } of readJsonLines<PodmanRecord>(join(dir, "podman"))) {
    result.podman.containers++;
    versions.add(record.podmanVersion);
    const masks = podmanMasksEnvSecrets(record.podmanVersion);
    for (const entry of record.env) {
      const variable = entry.slice(0, Math.max(0, entry.indexOf("=")));
      const value = entry.slice(entry.indexOf("=") + 1);
      for (const needle of needles) {
        if (!entry.includes(needle.text)) continue;
        // Podman before 5.3 shows a `type=env` secret's value in clear: the value of a variable
        // the manifest fills from a reference (the whole of it, or, rendered from a `${…}`
        // template, inside it). Anything else is a leak on any version.
        const accepted =
          !masks &&
          needle.form === "plain" &&
          value.includes(needle.secret.value) &&
          record.secretEnv.includes(variable);
        result.podman.hits.push({
          container: record.container,
          variable,
          secret: describeSecret(needle.secret),
          accepted,
        });
      }
    }
  }
  result.podman.versions = [...versions].sort();
  return result;
}
