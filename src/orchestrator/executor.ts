/**
 * The executor performs one planned action through the runtime. Every action is idempotent: after a
 * crash at any point the next reconcile repeats it, or finds it done.
 */

import { join } from "node:path";
import { isPairSecretFile, pairSecretFile, pairSecrets } from "../manifest/consumers.ts";
import { CURRENT_NAMING, renderedSecretPrefix, secretName } from "../manifest/naming.ts";
import { type Manifest, MIN_SECRET_LENGTH, memorySize } from "../manifest/schema.ts";
import {
  namingOf,
  type RenderContext,
  type ResolvedApp,
  renderTemplateValue,
  resolveApp,
} from "../render/model.ts";
import { resourceKey } from "../render/resources.ts";
import { removeDataDir } from "../runtime/data-dirs.ts";
import type { ContainerRef, Runtime } from "../runtime/runtime.ts";
import { ensureAppData, volumesOf } from "./adoption.ts";
import { type Approval, NotApprovedError, unapprovedOf } from "./approvals.ts";
import type { HostPathGuard } from "./host-path-guard.ts";
import type { Note } from "./model.ts";
import type { Action } from "./planner.ts";
import type { SecretFiles } from "./secrets.ts";
import { restoreWorkDirs, snapshotsDir } from "./snapshots.ts";

export type ExecutorOptions = {
  runtime: Runtime;
  secrets: SecretFiles;
  dataRoot: string;
  /** The operator's approvals of an app's permissions (the store's). */
  approvals: (appId: string) => Approval[];
  /** Checks a container's host paths right before it is created, started or restarted. */
  hostPaths: HostPathGuard;
  /** Fault injection for crash tests: called before every action. */
  beforeAction?: (action: Action) => void;
  /**
   * The names of an app that another installed app also has (`resourceKey`s, see name-clashes.ts):
   * removing the app never removes those (apps named under scheme 1 may share some).
   */
  sharedNames: (appId: string) => ReadonlySet<string>;
};

/** The app's own directory under the data root: its volumes live in `volumes/`. */
export function appDataDir(dataRoot: string, appId: string): string {
  return join(dataRoot, "apps", appId);
}

export class Executor {
  readonly #runtime: Runtime;
  readonly #secrets: SecretFiles;
  readonly #dataRoot: string;
  readonly #hostPaths: HostPathGuard;
  readonly #beforeAction: (action: Action) => void;
  readonly #sharedNames: (appId: string) => ReadonlySet<string>;
  readonly #approvals: (appId: string) => Approval[];

  constructor(options: ExecutorOptions) {
    this.#beforeAction = options.beforeAction ?? (() => {});
    this.#sharedNames = options.sharedNames;
    this.#approvals = options.approvals;
    this.#runtime = options.runtime;
    this.#secrets = options.secrets;
    this.#dataRoot = options.dataRoot;
    this.#hostPaths = options.hostPaths;
  }

  async run(manifest: Manifest, action: Action, ctx: RenderContext, note: Note): Promise<void> {
    this.#beforeAction(action);
    // Whatever planned it: no container runs with a permission the operator has not approved.
    if (action.kind === "create" || action.kind === "start" || action.kind === "restart") {
      const missing = unapprovedOf(manifest, this.#approvals(manifest.id));
      if (missing.length > 0) throw new NotApprovedError(manifest.id, missing);
    }
    const runtime = this.#runtime;
    // Host paths as they resolve now: all of them before anything of the app is made, a container's
    // as late as can be, since a bind mount follows links when the container starts (a path that
    // became a link since the last start is refused).
    if (action.kind === "prepare" || action.kind === "create") await this.#hostPaths.checkLegacy(manifest);
    if (action.kind === "prepare") await this.#hostPaths.check(manifest);
    if (action.kind === "create" || action.kind === "start" || action.kind === "restart")
      await this.#hostPaths.check(manifest, [action.key]);
    switch (action.kind) {
      case "prepare":
        return this.#prepare(manifest, ctx, note);
      case "create":
        // Legacy data `prepare` left while a legacy container still used it (see adoption.ts).
        await ensureAppData(
          runtime,
          manifest,
          volumesOf(resolveApp(manifest, ctx), action.key),
          "create",
          note,
        );
        note("info", `creating ${manifest.id}/${action.key} (${action.backend} backend)`);
        {
          const memory = manifest.containers[action.key]?.memory;
          if (memory !== undefined && !runtime.memoryLimits.enforced)
            note(
              "warn",
              `the memory limit of ${manifest.id}/${action.key} (${memorySize(memory)}) is not enforced on this host: ${runtime.memoryLimits.why}`,
            );
        }
        return runtime.create(manifest, action.key, ctx, action.backend);
      case "start":
        note("info", `starting ${action.container.name}`);
        return runtime.start(action.container);
      case "stop": {
        note("info", `stopping ${action.container.name} (timeout ${action.timeoutSeconds} s)`);
        const outcome = await runtime.stop(action.container, action.timeoutSeconds);
        note(
          "info",
          `${action.container.name} stopped (via ${outcome.via === "systemd" ? "its systemd unit" : "the Podman API"})`,
        );
        return;
      }
      case "restart":
        note("info", `restarting ${action.container.name}`);
        return runtime.restart(action.container, action.timeoutSeconds);
      case "remove":
        note(
          "info",
          action.why === "rollback"
            ? `removing container ${action.container.name} (rollback)`
            : action.why === "purge"
              ? `removing container ${action.container.name} (purge); its data goes once every container is gone`
              : `removing container ${action.container.name} (${action.why}); its data stays`,
        );
        return runtime.remove(action.container, action.timeoutSeconds);
      case "remove-resources": {
        note(
          "info",
          `removing the network and volume objects of ${manifest.id}; ${action.purge ? "its data and secrets go next" : "data and secrets stay"}`,
        );
        const shared = this.#sharedNames(manifest.id);
        for (const kept of await runtime.removeAppResources(manifest, ctx, shared))
          note("warn", `kept the ${kept}`);
        // Named the earlier way: the next install makes its Podman secrets under the current names
        // (from the same secret files), so the old ones go now rather than stay forever.
        if (namingOf(ctx, manifest.id) !== CURRENT_NAMING)
          await this.#removePodmanSecrets(manifest, ctx, note);
        return;
      }
      case "purge-data": {
        const dir = appDataDir(this.#dataRoot, manifest.id);
        note(
          "warn",
          `purging ${manifest.id}: deleting ${dir}, its update snapshots and its generated secrets`,
        );
        await removeDataDir(dir);
        // Its update snapshots, and what a restore interrupted by a crash may have left beside the data.
        const work = restoreWorkDirs(this.#dataRoot, manifest.id);
        for (const other of [snapshotsDir(this.#dataRoot, manifest.id), work.aside, work.restoring])
          await removeDataDir(other);
        await this.#secrets.purge(manifest.id);
        await this.#removePodmanSecrets(manifest, ctx, note);
        await this.#removeRenderedSecrets(manifest);
        return;
      }
      case "forget":
        return;
    }
  }

  /**
   * Removes the Podman secrets of the app's rendered environment values, `archy-<app>_env.…`: the
   * app's alone (naming.ts), those of values it had before included.
   */
  async #removeRenderedSecrets(manifest: Manifest): Promise<void> {
    for (const name of await this.#runtime.secretNames(renderedSecretPrefix(manifest.id)))
      await this.#runtime.removeSecret(name);
  }

  /** Removes the app's Podman secrets, except those another installed app has too. */
  async #removePodmanSecrets(manifest: Manifest, ctx: RenderContext, note: Note): Promise<void> {
    const shared = this.#sharedNames(manifest.id);
    for (const name of Object.keys(manifest.secrets)) {
      const podmanName = secretName(manifest.id, name, namingOf(ctx, manifest.id));
      if (shared.has(resourceKey("secret", podmanName)))
        note("warn", `kept the Podman secret ${podmanName}: another app has that name`);
      else await this.#runtime.removeSecret(podmanName);
    }
  }

  async #prepare(manifest: Manifest, ctx: RenderContext, note: Note): Promise<void> {
    const app = resolveApp(manifest, ctx);
    await ensureAppData(this.#runtime, manifest, app.volumes, "prepare", note); // takes over legacy data
    const ownValues = new Map<string, string>();
    const unmasked = (secret: { name: string; value: string; masked: boolean }) => {
      if (!secret.masked)
        note(
          "warn",
          `secret ${secret.name} is ${secret.value.length} characters, shorter than the ${MIN_SECRET_LENGTH} a generated one has: it is not masked in logs; delete ${join(this.#secrets.dirOf(manifest.id), secret.name)} to have a new one generated`,
        );
    };
    // The values the app holds as a consumer reach its containers only inside rendered values
    // (`${consumer:…}`) and the Podman secrets of the files they are mounted as (#renderTemplates).
    const pairs = pairSecrets(app.consumes, ctx.dependencies);
    const pairSpecs = Object.fromEntries(Object.entries(pairs).map(([file, pair]) => [file, pair.spec]));
    for (const secret of await this.#secrets.ensure(manifest.id, pairSpecs)) {
      ownValues.set(secret.name, secret.value);
      unmasked(secret);
      const pair = pairs[secret.name];
      if (secret.created && pair)
        note(
          "info",
          `generated ${secret.name}: the ${pair.secret} of ${manifest.id}'s account in ${pair.provider}`,
        );
    }
    for (const secret of await this.#secrets.ensureAll(manifest)) {
      ownValues.set(secret.name, secret.value);
      const podmanName = secretName(manifest.id, secret.name, namingOf(ctx, manifest.id));
      unmasked(secret);
      if (secret.created) {
        note("info", `generated secret ${secret.name}`);
        await this.#runtime.replaceSecret(podmanName, Buffer.from(secret.value));
      } else if (await this.#runtime.ensureSecret(podmanName, Buffer.from(secret.value))) {
        note("info", `stored secret ${secret.name} in Podman`);
      }
    }
    await this.#renderTemplates(app, ownValues, note);
    await this.#runtime.ensureNetwork(manifest, ctx);
    await this.#runtime.ensureVolumes(manifest, ctx);
  }

  /**
   * Stores each environment value with a secret in it (`${secret:…}`, a dependency's secret
   * export) as a Podman secret of its own, rendered here from the secret files, so that the value
   * is in no spec, unit or render. Stored again at every prepare: a secret file recreated since
   * gives its new value to the containers created next, as a plain secret does.
   */
  async #renderTemplates(app: ResolvedApp, own: ReadonlyMap<string, string>, note: Note): Promise<void> {
    for (const container of app.containers)
      for (const file of container.fileSecrets.filter((f) => isPairSecretFile(f.secret))) {
        const value = own.get(file.secret);
        if (value === undefined) throw new Error(`${app.id} has no ${file.secret} among its secrets`);
        await this.#runtime.replaceSecret(file.podmanSecret, Buffer.from(value));
        note(
          "info",
          `stored ${file.secret} for ${container.name}:${file.target} in Podman secret ${file.podmanSecret}`,
        );
      }
    for (const container of app.containers)
      for (const template of container.envTemplates) {
        if (!template.podmanSecret) continue;
        const values = new Map<string, string>();
        for (const piece of template.pieces) {
          if (piece.kind !== "secret") continue;
          const value =
            piece.app === app.id ? own.get(piece.secret) : await this.#secrets.read(piece.app, piece.secret);
          if (value === undefined)
            throw new Error(
              `containers.${container.key}.environment.${template.variable} uses the secret ${piece.secret} of ${piece.app}, which the node does not have: install or repair ${piece.app} first`,
            );
          values.set(`${piece.app}/${piece.secret}`, value);
        }
        const rendered = renderTemplateValue(template, (a, s) => values.get(`${a}/${s}`) as string);
        await this.#runtime.replaceSecret(template.podmanSecret, Buffer.from(rendered));
        note(
          "info",
          `rendered ${template.variable} of ${container.name} into Podman secret ${template.podmanSecret}`,
        );
      }
  }

  /**
   * The values `consumer` holds as a consumer of `provider`, by the provider's secret name: those
   * that exist (prepare generates them, before the consumer's containers are created).
   */
  async consumerValues(consumer: string, provider: Manifest): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    for (const secret of Object.keys(provider.consumers?.secrets ?? {})) {
      const value = await this.#secrets.read(consumer, pairSecretFile(provider.id, secret));
      if (value !== undefined) values[secret] = value;
    }
    return values;
  }

  /**
   * The last lines a container wrote (stdout and stderr, in order), to explain why it failed. The
   * reason it becomes is masked like every line the orchestrator records (secret-mask.ts): an app
   * that prints its password as it dies does not put it into the reason the API shows.
   */
  async lastLogLines(container: ContainerRef, count: number): Promise<string[]> {
    let text = "";
    try {
      for await (const chunk of await this.#runtime.logs(container, { tail: count })) text += chunk.data;
    } catch {
      return [];
    }
    return text
      .split("\n")
      .map((line) => line.trimEnd())
      .filter(Boolean)
      .slice(-count);
  }
}
