/**
 * `archy completion bash|zsh`: a shell completion script for every command, its subcommands and
 * options, and app ids (asked from the daemon through the hidden `archy __complete installed|
 * available`, which prints nothing when the daemon cannot answer within a second).
 */
import { UsageError } from "../args.ts";
import { type AppView, type AvailableApp, DaemonClient } from "../client.ts";

/** What follows an option: nothing (a flag), a file, a directory, one of some words, or free text. */
type Value = "flag" | "file" | "dir" | "text" | readonly string[];
type Option = { name: string; short?: string; value: Value; help: string };
/** What the positional arguments are. */
type Args = "installed" | "available" | "files" | "none" | { words: readonly string[] };
type CommandSpec = {
  summary: string;
  options: Option[];
  args: Args;
  subcommands?: Record<string, CommandSpec>;
};

const CONNECTION: Option[] = [
  { name: "url", value: "text", help: "the daemon URL" },
  { name: "token-file", value: "file", help: "the CLI token file" },
];
const HELP: Option = { name: "help", short: "h", value: "flag", help: "show usage" };
const JSON_OPTION: Option = { name: "json", value: "flag", help: "print the API result as JSON" };
const WAIT: Option[] = [
  { name: "no-wait", value: "flag", help: "return once accepted" },
  { name: "timeout", value: "text", help: "stop waiting after SECONDS" },
];

const APPROVE: Option = {
  name: "approve",
  value: "text",
  help: "all, or NAME,NAME: the permissions approved",
};

const lifecycle = (summary: string, args: Args, extra: Option[] = []): CommandSpec => ({
  summary,
  options: [...extra, ...WAIT, ...CONNECTION, HELP],
  args,
});

/** Every command of `archy` (a test checks this against the command table). */
export const COMMAND_SPECS: Record<string, CommandSpec> = {
  ls: { summary: "list installed apps", options: [JSON_OPTION, ...CONNECTION, HELP], args: "none" },
  available: {
    summary: "list apps that can be installed",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "none",
  },
  status: {
    summary: "show one app in detail",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "installed",
  },
  install: lifecycle("install an app", "available", [
    APPROVE,
    { name: "source", value: "text", help: "where from (nostr:NPUB for a marketplace app)" },
    { name: "confirm-risk", value: "flag", help: "install below your trust threshold" },
  ]),
  start: lifecycle("start an app", "installed"),
  stop: lifecycle("stop an app", "installed"),
  restart: lifecycle("restart an app", "installed"),
  reinstall: lifecycle("recreate an app's containers", "installed"),
  uninstall: lifecycle("uninstall an app", "installed", [
    { name: "purge", value: "flag", help: "also delete its data" },
  ]),
  update: lifecycle("update an app", "installed", [
    { name: "force", value: "flag", help: "reapply or downgrade" },
    { name: "switch-source", value: "flag", help: "consent to another source or signer" },
    APPROVE,
    { name: "confirm-risk", value: "flag", help: "update a reported or muted publisher's app" },
  ]),
  retry: lifecycle("retry a failed app", "installed"),
  approve: lifecycle("approve an app's permissions", "installed", [
    { name: "all", value: "flag", help: "every permission not approved" },
  ]),
  revoke: lifecycle("withdraw approval of a permission", "installed"),
  logs: {
    summary: "show an app's container output",
    options: [
      { name: "follow", short: "f", value: "flag", help: "keep printing new lines" },
      { name: "container", value: "text", help: "only this container key" },
      { name: "tail", value: "text", help: "lines to print first" },
      ...CONNECTION,
      HELP,
    ],
    args: "installed",
  },
  credentials: {
    summary: "show an app's logins",
    options: [JSON_OPTION, ...CONNECTION, HELP],
    args: "installed",
  },
  auth: {
    summary: "the operator's credentials",
    options: [HELP],
    args: "none",
    subcommands: {
      "rotate-token": { summary: "write a new CLI token", options: [...CONNECTION, HELP], args: "none" },
      "logout-all": { summary: "revoke every web session", options: [...CONNECTION, HELP], args: "none" },
    },
  },
  completion: {
    summary: "print a shell completion script",
    options: [HELP],
    args: { words: ["bash", "zsh"] },
  },
  app: {
    summary: "app developer tools",
    options: [HELP],
    args: "none",
    subcommands: {
      new: {
        summary: "create an app from a template",
        options: [
          { name: "template", short: "t", value: ["web", "stack", "worker"], help: "the kind of app" },
          { name: "out", short: "o", value: "dir", help: "the app directory to create" },
          { name: "name", value: "text", help: "the display name" },
          { name: "port", value: "text", help: "the host port of its web page" },
          { name: "schema", value: "text", help: "the $schema reference" },
          HELP,
        ],
        args: "none",
      },
      import: {
        summary: "convert a docker-compose project into an app",
        options: [
          { name: "out", short: "o", value: "dir", help: "the app directory to create" },
          { name: "id", value: "text", help: "the app id" },
          { name: "profile", value: "text", help: "a compose profile to include" },
          { name: "env-file", value: "file", help: "the interpolation variables" },
          { name: "schema", value: "text", help: "the $schema reference" },
          { name: "json", value: "flag", help: "print the report as JSON" },
          HELP,
        ],
        args: "files",
      },
      schema: { summary: "print the manifest's JSON Schema", options: [HELP], args: "none" },
      validate: {
        summary: "validate manifests",
        options: [
          { name: "format", value: ["text", "json", "github", "sarif"], help: "the output format" },
          JSON_OPTION,
          HELP,
        ],
        args: "files",
      },
      render: {
        summary: "render an app for a backend",
        options: [
          { name: "target", short: "t", value: ["quadlet", "podman", "kube"], help: "what to render" },
          { name: "out", short: "o", value: "dir", help: "write files into DIR" },
          { name: "data-root", value: "dir", help: "the node data root" },
          { name: "with", value: "file", help: "a dependency manifest" },
          HELP,
        ],
        args: "files",
      },
      publish: {
        summary: "sign and publish a release over Nostr",
        options: [
          { name: "relay", value: "text", help: "a relay (ws:// or wss://)" },
          { name: "bundle-url", value: "text", help: "an HTTP PUT target for the bundle" },
          { name: "bundle-dir", value: "dir", help: "a directory for the bundle" },
          { name: "public-url", value: "text", help: "where --bundle-dir is served" },
          { name: "key", value: "file", help: "your key file" },
          { name: "notes", value: "text", help: "release notes" },
          { name: "allow-unpinned", value: "flag", help: "let images by tag through (development only)" },
          JSON_OPTION,
          HELP,
        ],
        args: "files",
      },
    },
  },
  registry: {
    summary: "credentials for image registries",
    options: [HELP],
    args: "none",
    subcommands: {
      ls: {
        summary: "the registries with credentials",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      login: {
        summary: "store credentials (password on stdin)",
        options: [{ name: "username", value: "text", help: "the registry user" }, ...CONNECTION, HELP],
        args: "none",
      },
      logout: { summary: "forget the credentials", options: [...CONNECTION, HELP], args: "none" },
    },
  },
  market: {
    summary: "the Nostr marketplace",
    options: [HELP],
    args: "none",
    subcommands: {
      relays: {
        summary: "list, add or remove relays",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: { words: ["ls", "add", "remove"] },
      },
      identity: {
        summary: "show or set your own npub",
        options: [{ name: "clear", value: "flag", help: "unset it" }, ...CONNECTION, HELP],
        args: "none",
      },
      settings: {
        summary: "the trust threshold and NIP-85 provider",
        options: [
          { name: "threshold", value: "text", help: "score below which installs need --confirm-risk" },
          { name: "provider", value: "text", help: "a NIP-85 rank provider (npub)" },
          { name: "no-provider", value: "flag", help: "no rank provider" },
          JSON_OPTION,
          ...CONNECTION,
          HELP,
        ],
        args: "none",
      },
      refresh: {
        summary: "learn from the relays now",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
      ls: {
        summary: "the marketplace's apps with trust",
        options: [JSON_OPTION, ...CONNECTION, HELP],
        args: "none",
      },
    },
  },
  dev: {
    summary: "marketplace developer tools",
    options: [HELP],
    args: "none",
    subcommands: {
      keygen: {
        summary: "create your Nostr key",
        options: [
          { name: "key", value: "file", help: "the key file" },
          { name: "nip05", value: "text", help: "your NIP-05 handle" },
          { name: "encrypt", value: "flag", help: "seal it with ARCHY_DEV_PASSPHRASE" },
          HELP,
        ],
        args: "none",
      },
      whoami: {
        summary: "show a key file's identity",
        options: [{ name: "key", value: "file", help: "the key file" }, JSON_OPTION, HELP],
        args: "none",
      },
      relay: {
        summary: "run a local relay",
        options: [
          { name: "listen", value: "text", help: "HOST:PORT" },
          { name: "db", value: "file", help: "keep events in this file" },
          { name: "bundles", value: "dir", help: "serve a bundle mirror from DIR" },
          HELP,
        ],
        args: "none",
      },
    },
  },
  catalog: {
    summary: "catalog publisher tools",
    options: [HELP],
    args: "none",
    subcommands: {
      init: {
        summary: "create a catalog: keys and a signed root",
        options: [
          { name: "keys", value: "text", help: "ROLE=N keys of a role" },
          { name: "threshold", value: "text", help: "ROLE=K signatures a role needs" },
          { name: "expires", value: "text", help: "ROLE=DAYS a role's lifetime" },
          { name: "encrypt", value: "flag", help: "seal the keys with a passphrase" },
          HELP,
        ],
        args: "files",
      },
      add: {
        summary: "add app versions",
        options: [
          { name: "role", value: "text", help: "the delegated role to add to" },
          { name: "allow-unpinned", value: "flag", help: "let images by tag through (development catalogs)" },
          HELP,
        ],
        args: "files",
      },
      remove: { summary: "remove apps", options: [HELP], args: "files" },
      sign: {
        summary: "sign roles",
        options: [
          { name: "role", value: "text", help: "a role to sign" },
          { name: "key", value: "file", help: "a key file" },
          { name: "keys-dir", value: "dir", help: "where the keys are" },
          { name: "renew", value: "flag", help: "a new version with a fresh expiry" },
          HELP,
        ],
        args: "files",
      },
      publish: { summary: "write the signed catalog as a static tree", options: [HELP], args: "files" },
      "rotate-root": {
        summary: "prepare the next root",
        options: [
          { name: "role", value: "text", help: "the top-level role to change" },
          { name: "generate", value: "text", help: "N new keys" },
          { name: "add-key", value: "text", help: "a public key to add" },
          { name: "remove-key", value: "text", help: "a key id to remove" },
          { name: "threshold", value: "text", help: "K signatures" },
          HELP,
        ],
        args: "files",
      },
      delegate: {
        summary: "give a namespace its own keys",
        options: [
          { name: "generate", value: "text", help: "N new keys" },
          { name: "add-key", value: "text", help: "a public key to add" },
          { name: "threshold", value: "text", help: "K signatures" },
          HELP,
        ],
        args: "files",
      },
      keygen: {
        summary: "make a key file and print its public key",
        options: [
          { name: "role", value: "text", help: "the key's name" },
          { name: "encrypt", value: "flag", help: "seal it with a passphrase" },
          HELP,
        ],
        args: "files",
      },
      verify: {
        summary: "check a published catalog as a node would",
        options: [{ name: "root", value: "file", help: "the pinned root" }, JSON_OPTION, HELP],
        args: "files",
      },
    },
  },
  daemon: {
    summary: "run the daemon",
    options: [
      { name: "data-dir", value: "dir", help: "state and app data" },
      { name: "listen", value: "text", help: "HOST:PORT to listen on" },
      { name: "apps-dir", value: "dir", help: "local app manifests" },
      { name: "config", value: "file", help: "a config file" },
      { name: "backend", value: ["auto", "podman", "quadlet"], help: "how containers are created" },
      { name: "podman-socket", value: "file", help: "a Podman API socket" },
      HELP,
    ],
    args: "none",
  },
  doctor: {
    summary: "check and set up this host",
    options: [{ name: "fix", value: "flag", help: "apply the fixes" }, JSON_OPTION, HELP],
    args: "none",
  },
  gate: {
    summary: "run the production gate",
    options: [
      { name: "iterations", value: "text", help: "how many times the matrix runs" },
      { name: "apps", value: "text", help: "the apps to gate (A,B)" },
      { name: "steps", value: "text", help: "the steps to judge (S,T)" },
      { name: "report", value: "file", help: "write FILE.json and FILE.md" },
      { name: "destructive", value: "flag", help: "run the purge step" },
      { name: "chaos", value: "flag", help: "inject faults between steps" },
      { name: "seed", value: "text", help: "the seed of the faults" },
      { name: "apps-dir", value: "dir", help: "where the apps are" },
      { name: "timeout-scale", value: "text", help: "multiply every time limit" },
      { name: "json", value: "flag", help: "print the JSON report" },
      { name: "user", value: "text", help: "the daemon's user (root)" },
      { name: "work-dir", value: "dir", help: "where the sandbox is made" },
      { name: "keep", value: "flag", help: "leave the sandbox for inspection" },
      { name: "no-isolate", value: "flag", help: "gate the apps as written" },
      ...CONNECTION,
      { name: "podman-socket", value: "file", help: "the daemon's Podman socket" },
      { name: "data-dir", value: "dir", help: "the daemon's data directory" },
      { name: "restart-command", value: "text", help: "how to restart the daemon" },
      HELP,
    ],
    args: "none",
  },
};

const USAGE = `Usage: archy completion bash|zsh

Prints a completion script for the shell: commands, subcommands, options and, asked from the
daemon when it answers quickly, app ids. Install it with, for bash:

  archy completion bash > ~/.local/share/bash-completion/completions/archy

or add \`source <(archy completion bash)\` to ~/.bashrc; for zsh, add
\`source <(archy completion zsh)\` to ~/.zshrc (after compinit), or write it as \`_archy\` into a
directory of your $fpath.`;

function flags(spec: CommandSpec): string[] {
  return spec.options.flatMap((o) => (o.short ? [`-${o.short}`, `--${o.name}`] : [`--${o.name}`]));
}

function bashValueCase(spec: CommandSpec, indent: string): string {
  const valued = spec.options.filter((o) => o.value !== "flag");
  if (valued.length === 0) return "";
  const lines = valued.map((o) => {
    const names = [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])].join("|");
    const action =
      o.value === "file"
        ? 'COMPREPLY=($(compgen -f -- "$cur"))'
        : o.value === "dir"
          ? 'COMPREPLY=($(compgen -d -- "$cur"))'
          : o.value === "text"
            ? "COMPREPLY=()"
            : `COMPREPLY=($(compgen -W "${(o.value as readonly string[]).join(" ")}" -- "$cur"))`;
    return `${indent}  ${names}) ${action}; return ;;`;
  });
  return `${indent}case "$prev" in\n${lines.join("\n")}\n${indent}esac\n`;
}

function bashArgs(args: Args): string {
  if (args === "installed" || args === "available") return `$(_archy_ids ${args})`;
  if (typeof args === "object") return args.words.join(" ");
  return "";
}

function bashCommand(spec: CommandSpec, indent: string): string {
  const words = bashArgs(spec.args);
  const argsAction =
    spec.args === "files"
      ? 'COMPREPLY=($(compgen -f -- "$cur"))'
      : words
        ? `COMPREPLY=($(compgen -W "${words}" -- "$cur"))`
        : "COMPREPLY=()";
  return (
    bashValueCase(spec, indent) +
    `${indent}if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${flags(spec).join(" ")}" -- "$cur")); return; fi\n` +
    `${indent}${argsAction}\n`
  );
}

export function bashScript(specs = COMMAND_SPECS): string {
  const cases = Object.entries(specs).map(([name, spec]) => {
    if (!spec.subcommands) return `    ${name})\n${bashCommand(spec, "      ")}      ;;`;
    const subs = Object.entries(spec.subcommands)
      .map(([sub, subSpec]) => `        ${sub})\n${bashCommand(subSpec, "          ")}          ;;`)
      .join("\n");
    return `    ${name})
      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "${Object.keys(spec.subcommands).join(" ")} --help" -- "$cur")); return; fi
      case "\${COMP_WORDS[2]}" in
${subs}
      esac
      ;;`;
  });
  return `# bash completion for archy; generated by \`archy completion bash\`
_archy_ids() {
  "\${COMP_WORDS[0]}" __complete "$1" 2>/dev/null
}
_archy() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${Object.keys(specs).join(" ")} --help" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _archy archy
`;
}

/** zsh wants [ ] : and quotes escaped in descriptions; ours are plain words. */
const zshText = (text: string) => text.replace(/[[\]:'\\]/g, " ");

function zshOption(o: Option): string {
  const value =
    o.value === "flag"
      ? ""
      : o.value === "file"
        ? ":file:_files"
        : o.value === "dir"
          ? ":directory:_files -/"
          : o.value === "text"
            ? `:${o.name}: `
            : `:${o.name}:(${(o.value as readonly string[]).join(" ")})`;
  const help = `[${zshText(o.help)}]`;
  if (o.short) return `'(-${o.short} --${o.name})'{-${o.short},--${o.name}}'${help}${value}'`;
  return `'--${o.name}${help}${value}'`;
}

function zshArgs(args: Args): string {
  if (args === "installed") return "'1:app:_archy_installed'";
  if (args === "available") return "'1:app:_archy_available'";
  if (args === "files") return "'*:file:_files'";
  if (typeof args === "object") return `'1:argument:(${args.words.join(" ")})'`;
  return "";
}

function zshArguments(spec: CommandSpec): string {
  return ["_arguments", ...spec.options.map(zshOption), zshArgs(spec.args)]
    .filter(Boolean)
    .join(" \\\n        ");
}

export function zshScript(specs = COMMAND_SPECS): string {
  const describe = (entries: Array<[string, CommandSpec]>) =>
    entries.map(([name, spec]) => `'${name}:${zshText(spec.summary)}'`).join(" ");
  const cases = Object.entries(specs).map(([name, spec]) => {
    if (!spec.subcommands) return `      ${name})\n        ${zshArguments(spec)}\n        ;;`;
    const subs = Object.entries(spec.subcommands)
      .map(
        ([sub, subSpec]) =>
          `          ${sub})\n            ${zshArguments(subSpec).replaceAll("\n        ", "\n            ")}\n            ;;`,
      )
      .join("\n");
    return `      ${name})
        if (( CURRENT == 2 )); then
          local -a subcommands=(${describe(Object.entries(spec.subcommands))})
          _describe -t subcommands 'archy ${name} subcommand' subcommands
          return
        fi
        case $words[2] in
${subs}
        esac
        ;;`;
  });
  return `#compdef archy
# zsh completion for archy; generated by \`archy completion zsh\`
_archy_installed() {
  local -a ids=(\${(f)"$(archy __complete installed 2>/dev/null)"})
  compadd -a ids
}
_archy_available() {
  local -a ids=(\${(f)"$(archy __complete available 2>/dev/null)"})
  compadd -a ids
}
_archy() {
  local curcontext="$curcontext" state line
  local -a commands=(${describe(Object.entries(specs))})
  _arguments -C '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe -t commands 'archy command' commands ;;
    argument)
      case $words[1] in
${cases.join("\n")}
        *) _files ;;
      esac
      ;;
  esac
}
if [ "$funcstack[1]" = "_archy" ]; then
  _archy "$@"
else
  compdef _archy archy
fi
`;
}

export async function run(argv: string[]): Promise<number> {
  const [shell, ...rest] = argv;
  if (shell === "--help" || shell === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'\n\n${USAGE}`);
  if (shell === "bash") process.stdout.write(bashScript());
  else if (shell === "zsh") process.stdout.write(zshScript());
  else
    throw new UsageError(
      `${shell === undefined ? "which shell?" : `no completion for '${shell}'`}: bash or zsh\n\n${USAGE}`,
    );
  return 0;
}

/** `archy __complete installed|available`: app ids, one a line; silent when the daemon does not answer. */
export async function runComplete(argv: string[]): Promise<number> {
  const [what] = argv;
  try {
    const client = new DaemonClient({ timeoutMs: 1_500 });
    const apps =
      what === "available"
        ? await client.call<AvailableApp[]>("package.available")
        : await client.call<AppView[]>("package.list");
    process.stdout.write(apps.map((a) => `${a.id}\n`).join(""));
  } catch {
    // Completion never prints errors.
  }
  return 0;
}
