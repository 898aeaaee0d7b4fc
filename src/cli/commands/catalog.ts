/** `archy catalog …`: the catalog publisher's tools (a TUF repository; see docs/catalog.md). */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogError } from "../../catalog/errors.ts";
import { createKeyFile, PASSPHRASE_VARIABLE, passphraseFromEnv } from "../../catalog/key-files.ts";
import { TOP_ROLES, type TopRole } from "../../catalog/layout.ts";
import { baseUrl, CatalogSource } from "../../catalog/node/source.ts";
import {
  addApps,
  delegateNamespace,
  initCatalog,
  publishCatalog,
  removeApps,
  rotateCatalogRoot,
  signCatalog,
} from "../../catalog/publisher.ts";
import { DEFAULT_LIFETIMES, type Lifetimes, type RoleStatus } from "../../catalog/repository.ts";
import { parseCommandLine, runSubcommand, UsageError } from "../args.ts";
import type { SubcommandName } from "../commands.ts";
import { printJson, table } from "../operator.ts";

const USAGE = `Usage: archy catalog <command> DIR …   (DIR: the catalog's working directory)

  init DIR [--keys ROLE=N]... [--threshold ROLE=K]... [--expires ROLE=DAYS]... [--encrypt]
      Create a catalog: keys for root, targets, snapshot and timestamp (DIR/keys, files 0600;
      --encrypt seals them with the passphrase in ${PASSPHRASE_VARIABLE}), every role signed.
      Defaults: 1 key per role, threshold 1; expiry root 365, targets 90, snapshot 7, timestamp 1 days.
  add DIR PATH... [--role ROLE] [--allow-unpinned]
      Add app versions (an app directory: its manifest, icon and files). The manifest must be valid
      and its version newer than the catalog's. Apps of a delegated namespace go to its role. Every
      image from a registry must be pinned by digest (NAME:TAG@sha256:…); --allow-unpinned lets
      tags through, for a development catalog only.
  remove DIR ID...
      Remove apps from the catalog.
  sign DIR [--role ROLE]... [--key FILE]... [--keys-dir DIR] [--renew]
      Sign roles: without --role, every role that needs it with the keys found (DIR/keys, or
      --keys-dir); snapshot and timestamp are made anew each time they are signed. --renew starts a
      new version with a fresh expiry first. Root and targets keys can stay offline: sign those
      roles where their keys are, and the timestamp where it is online.
  publish DIR OUT
      Write the signed catalog as a static tree (OUT/metadata, OUT/targets) any web server can serve.
      Atomic: readers never see a half-written catalog.
  rotate-root DIR [--role ROLE] [--generate N] [--add-key HEX]... [--remove-key KEYID]... [--threshold K]
      Prepare the next root: change the keys or threshold of a top-level role (default: root).
      Then sign it with enough old and new root keys (sign --role root) and publish.
  delegate DIR NAMESPACE [--generate N] [--add-key HEX]... [--threshold K]
      Give a namespace (apps NAMESPACE.*) its own keys: generated here (default 1), or the public
      key of its owner (--add-key, from their archy catalog keygen). Again to replace its keys.
  keygen KEYS-DIR [--role NAME] [--encrypt]
      Make a key file (0600) and print its public key, for a delegation or a rotation elsewhere.
  verify SOURCE [--root FILE] [--json]
      Check a published catalog (a directory or an http(s) URL) as a node would, from the pinned
      root FILE (default: SOURCE's metadata/1.root.json); list its apps. Exit 0 when it is valid.`;

const SUBCOMMANDS: Record<SubcommandName<"catalog">, (argv: string[]) => Promise<number>> = {
  init,
  add,
  remove,
  sign,
  publish,
  "rotate-root": rotate,
  delegate: delegateCommand,
  keygen,
  verify,
};

export async function run(argv: string[]): Promise<number> {
  try {
    return await runSubcommand("catalog", SUBCOMMANDS, argv, USAGE);
  } catch (error) {
    if (!(error instanceof CatalogError)) throw error;
    console.error(`archy: ${error.message}`);
    return 1;
  }
}

type Options = Parameters<typeof parseCommandLine>[1];

function parse<T extends Options>(argv: string[], options: T, positionals: number | [number, number]) {
  const parsed = parseCommandLine(argv, options, USAGE);
  const [min, max] = typeof positionals === "number" ? [positionals, positionals] : positionals;
  const count = parsed.positionals.length;
  if (!(parsed.values as { help?: boolean }).help && (count < min || count > max))
    throw new UsageError(`wrong number of arguments\n\n${USAGE}`);
  return parsed;
}

/** `ROLE=N` options into a record over the top-level roles (and `delegated` for --expires). */
function perRole(
  values: string[] | undefined,
  option: string,
  allowed: readonly string[],
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const value of values ?? []) {
    const match = /^([a-z]+)=(\d+(\.\d+)?)$/.exec(value);
    if (!match || !allowed.includes(match[1] as string))
      throw new UsageError(
        `--${option} ${value}: expected ROLE=NUMBER with ROLE one of ${allowed.join(", ")}`,
      );
    result[match[1] as string] = Number(match[2]);
  }
  return result;
}

function requirePassphrase(encrypt: boolean | undefined): string | undefined {
  if (!encrypt) return undefined;
  const passphrase = passphraseFromEnv();
  if (passphrase === undefined)
    throw new UsageError(`--encrypt needs the passphrase in the environment variable ${PASSPHRASE_VARIABLE}`);
  return passphrase;
}

async function init(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      keys: { type: "string", multiple: true },
      threshold: { type: "string", multiple: true },
      expires: { type: "string", multiple: true },
      encrypt: { type: "boolean" },
    },
    1,
  );
  if (values.help) return help();
  const counts = perRole(values.keys, "keys", TOP_ROLES);
  const thresholds = perRole(values.threshold, "threshold", TOP_ROLES);
  const days = perRole(values.expires, "expires", [...TOP_ROLES, "delegated"]);
  const lifetimes = { ...DEFAULT_LIFETIMES };
  for (const [role, value] of Object.entries(days)) lifetimes[role as keyof Lifetimes] = value * 86_400;
  const dir = positionals[0] as string;
  const { keyFiles } = await initCatalog(dir, {
    keys: Object.fromEntries(TOP_ROLES.map((r) => [r, counts[r] ?? 1])) as Record<TopRole, number>,
    thresholds: Object.fromEntries(TOP_ROLES.map((r) => [r, thresholds[r] ?? 1])) as Record<TopRole, number>,
    lifetimes,
    passphrase: requirePassphrase(values.encrypt),
    now: Date.now(),
  });
  console.log(`created the catalog in ${dir}; keys (keep root and targets keys offline):`);
  for (const file of keyFiles) console.log(`  ${file}`);
  console.log(
    `pin ${dir}/metadata/root/1.root.json on nodes (the published metadata/1.root.json is the same file)`,
  );
  return 0;
}

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { role: { type: "string" }, "allow-unpinned": { type: "boolean" } },
    [2, Number.POSITIVE_INFINITY],
  );
  if (values.help) return help();
  const [dir, ...paths] = positionals as [string, ...string[]];
  const added = await addApps(dir, paths, {
    role: values.role,
    now: Date.now(),
    allowUnpinned: values["allow-unpinned"] === true,
  });
  for (const app of added)
    console.log(
      `added ${app.id} ${app.version} (${app.files} file${app.files === 1 ? "" : "s"}, role ${app.role})`,
    );
  console.log("now sign the catalog (archy catalog sign) and publish it");
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, [2, Number.POSITIVE_INFINITY]);
  if (values.help) return help();
  const [dir, ...ids] = positionals as [string, ...string[]];
  await removeApps(dir, ids, Date.now());
  console.log(`removed ${ids.join(", ")}; now sign the catalog (archy catalog sign) and publish it`);
  return 0;
}

async function sign(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      role: { type: "string", multiple: true },
      key: { type: "string", multiple: true },
      "keys-dir": { type: "string" },
      renew: { type: "boolean" },
    },
    1,
  );
  if (values.help) return help();
  const report = await signCatalog(positionals[0] as string, {
    roles: values.role ?? [],
    keyFiles: values.key ?? [],
    keysDir: values["keys-dir"],
    renew: values.renew ?? false,
    passphrase: passphraseFromEnv(),
    now: Date.now(),
  });
  console.log(report.signed.length > 0 ? `signed ${report.signed.join(", ")}` : "signed nothing");
  for (const skipped of report.skipped) console.log(`not signed: ${skipped.role}: ${skipped.reason}`);
  printStatus(report.status);
  return report.status.some((s) => s.problem !== undefined) ? 1 : 0;
}

function printStatus(rows: RoleStatus[]): void {
  console.log(
    table(
      ["ROLE", "VERSION", "SIGNATURES", "EXPIRES", "STATE"],
      rows.map((r) => [
        r.role,
        String(r.version),
        `${r.signatures}/${r.threshold}`,
        r.expires,
        r.problem ?? "ready",
      ]),
    ),
  );
}

async function publish(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {}, 2);
  if (values.help) return help();
  const [dir, out] = positionals as [string, string];
  const { files, written } = await publishCatalog(dir, out, Date.now());
  console.log(`published ${dir} to ${out}: ${files} files, ${written} written`);
  return 0;
}

function keyOptions(
  values: { generate?: string; "add-key"?: string[]; "keys-dir"?: string; encrypt?: boolean },
  fallback: number,
) {
  const generate =
    values.generate === undefined ? (values["add-key"]?.length ? 0 : fallback) : Number(values.generate);
  if (!Number.isInteger(generate) || generate < 0)
    throw new UsageError(`--generate ${values.generate}: expected a number of keys`);
  return {
    generate,
    addPublic: values["add-key"] ?? [],
    keysDir: values["keys-dir"],
    passphrase: requirePassphrase(values.encrypt),
  };
}

const KEY_OPTIONS = {
  generate: { type: "string" },
  "add-key": { type: "string", multiple: true },
  "keys-dir": { type: "string" },
  threshold: { type: "string" },
  encrypt: { type: "boolean" },
} as const;

function threshold(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new UsageError(`--threshold ${value}: expected a positive integer`);
  return parsed;
}

async function rotate(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...KEY_OPTIONS, role: { type: "string" }, "remove-key": { type: "string", multiple: true } },
    1,
  );
  if (values.help) return help();
  const role = (values.role ?? "root") as TopRole;
  if (!TOP_ROLES.includes(role))
    throw new UsageError(`--role ${role}: expected one of ${TOP_ROLES.join(", ")}`);
  const remove = values["remove-key"] ?? [];
  const { keyFiles, version } = await rotateCatalogRoot(positionals[0] as string, role, {
    ...keyOptions(values, 0),
    remove,
    threshold: threshold(values.threshold),
    now: Date.now(),
  });
  console.log(`prepared root version ${version}${keyFiles.length > 0 ? "; new keys:" : ""}`);
  for (const file of keyFiles) console.log(`  ${file}`);
  console.log(
    "sign it with enough keys of the previous root and of the new one (archy catalog sign --role root), then publish",
  );
  return 0;
}

async function delegateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, KEY_OPTIONS, 2);
  if (values.help) return help();
  const [dir, namespace] = positionals as [string, string];
  const options = keyOptions(values, 1);
  const { keyFiles } = await delegateNamespace(dir, namespace, {
    ...options,
    threshold: threshold(values.threshold) ?? 1,
    now: Date.now(),
  });
  console.log(
    `delegated apps ${namespace}.* to their own role ${namespace}${keyFiles.length > 0 ? "; its keys:" : ""}`,
  );
  for (const file of keyFiles) console.log(`  ${file}`);
  console.log(
    `sign the roles (archy catalog sign), then publish; add its apps with archy catalog add ${dir} PATH`,
  );
  return 0;
}

async function keygen(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { role: { type: "string" }, encrypt: { type: "boolean" } }, 1);
  if (values.help) return help();
  const dir = positionals[0] as string;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { file, content } = await createKeyFile(dir, values.role ?? "key", requirePassphrase(values.encrypt));
  console.log(`created ${file} (keep it private)`);
  console.log(`public key: ${content.public}`);
  return 0;
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { root: { type: "string" }, json: { type: "boolean" } }, 1);
  if (values.help) return help();
  const url = positionals[0] as string;
  if (!values.root && /^https?:/.test(url))
    throw new UsageError("verify of an http(s) catalog needs --root FILE: the root you trust for it");
  const root = values.root ?? fileURLToPath(new URL("metadata/1.root.json", baseUrl(url)));
  const state = await mkdtemp(join(tmpdir(), "archy-catalog-verify-"));
  try {
    const source = new CatalogSource({ name: "verify", url, root }, { stateDir: state });
    const status = await source.refresh();
    const listing = source.listing;
    if (values.json)
      printJson({
        valid: status.state === "ok",
        status,
        apps: listing?.apps.map(({ manifest: _, dir: __, text: ___, ...app }) => app) ?? [],
        rejected: listing?.rejected ?? [],
      });
    else if (status.error) {
      console.error(
        `archy: the catalog at ${url} is not valid: ${status.error.message}\n    fix: ${status.error.fix}`,
      );
    } else {
      console.log(
        table(
          ["APP", "VERSION", "ROLE"],
          (listing?.apps ?? []).map((a) => [a.id, a.version, a.role]),
        ),
      );
      for (const r of listing?.rejected ?? []) console.log(`rejected ${r.id} ${r.version}: ${r.reason}`);
      // A namespace that fails hides its apps on nodes: the catalog is not valid as published.
      for (const f of status.failedRoles)
        console.error(`archy: ${f.message} (${f.kind}); its apps are hidden\n    fix: ${f.fix}`);
      console.log(
        `${status.failedRoles.length > 0 ? "not valid" : "valid"}: ${listing?.apps.length ?? 0} apps, ${status.transferred.requests} files, ${status.transferred.bytes} bytes checked`,
      );
    }
    return status.state === "ok" && (listing?.rejected.length ?? 0) === 0 ? 0 : 1;
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

function help(): number {
  console.log(USAGE);
  return 0;
}
