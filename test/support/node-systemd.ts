/**
 * Test adapters that let the runtime's Quadlet backend drive the node user of a systemd test node
 * (`startNode`) from the host: a `CommandRunner` that runs `systemctl --user …` as that user inside
 * the node, and a `UnitStore` that keeps unit files in the node user's Quadlet directory through
 * the same runner (content on stdin, written to a temporary file and renamed into place, so that a
 * `daemon-reload` never sees half a unit).
 */

import type { CommandRunner, UnitStore } from "../../src/runtime/systemd.ts";
import type { ExecResult } from "../../src/system/exec.ts";
import { NODE_USER, type SystemdNode } from "./systemd-node.ts";

/** The node user's Quadlet unit directory. */
export const NODE_QUADLET_DIR = `/home/${NODE_USER}/.config/containers/systemd`;

/** Runs commands as the node user inside `node`, with the environment `systemctl --user` needs. */
export function nodeRunner(node: SystemdNode): CommandRunner {
  return (argv, options = {}) => node.execUser(argv, options);
}

/**
 * A unit file, a drop-in of one (`name.container.d/NN-what.conf`) or a drop-in directory: no other
 * directories, no hidden files (temporary files start with a dot).
 */
const UNIT_NAME = /^[A-Za-z0-9_@][A-Za-z0-9_.@:-]*(\.d\/[A-Za-z0-9_@][A-Za-z0-9_.@:-]*\.conf)?$/;

function checkName(name: string): void {
  if (!UNIT_NAME.test(name) || name.includes(".."))
    throw new Error(`not a unit file name: ${JSON.stringify(name)}`);
}

function mustSucceed(what: string, result: ExecResult): void {
  if (result.code !== 0)
    throw new Error(`${what}: ${result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`}`);
}

/** A Quadlet unit directory reached through a command runner (a node, or another user's shell). */
export class CommandUnitStore implements UnitStore {
  readonly dir: string;
  readonly #run: CommandRunner;

  constructor(run: CommandRunner, dir: string) {
    this.#run = run;
    this.dir = dir;
  }

  async write(name: string, content: string): Promise<void> {
    checkName(name);
    const script =
      'set -e; d=$(dirname "$1/$2"); mkdir -p "$d"; tmp="$d/.tmp-$$"; trap \'rm -f "$tmp"\' EXIT; ' +
      'cat >"$tmp"; chmod 0644 "$tmp"; mv -f "$tmp" "$1/$2"; trap - EXIT';
    const result = await this.#run(["sh", "-c", script, "sh", this.dir, name], { input: content });
    mustSucceed(`writing ${this.dir}/${name}`, result);
  }

  async remove(name: string): Promise<void> {
    checkName(name);
    const flags = name.endsWith(".d") ? "-rf" : "-f";
    mustSucceed(`removing ${this.dir}/${name}`, await this.#run(["rm", flags, "--", `${this.dir}/${name}`]));
  }

  async list(subdir?: string): Promise<string[]> {
    if (subdir !== undefined) checkName(`${subdir}/x.conf`);
    const script =
      "[ -d \"$1\" ] || exit 0; find \"$1\" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\\n'";
    const result = await this.#run(["sh", "-c", script, "sh", subdir ? `${this.dir}/${subdir}` : this.dir]);
    mustSucceed(`listing ${this.dir}`, result);
    return result.stdout.split("\n").filter((line) => line !== "");
  }

  /** The content of a unit file and when it was written, or undefined when there is none. */
  async read(name: string): Promise<{ content: string; modifiedAt: number } | undefined> {
    checkName(name);
    const script = '[ -f "$1" ] || exit 3; stat -c %Y "$1"; cat -- "$1"';
    const result = await this.#run(["sh", "-c", script, "sh", `${this.dir}/${name}`]);
    if (result.code !== 0) return undefined;
    const newline = result.stdout.indexOf("\n");
    return {
      modifiedAt: Number(result.stdout.slice(0, newline)) * 1000,
      content: result.stdout.slice(newline + 1),
    };
  }
}
