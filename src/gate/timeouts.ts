/**
 * How long each step may take, derived from the manifest: what its containers declare (stop
 * timeouts, health start periods, probe intervals and retries, hook timeouts) plus fixed margins
 * for the platform's own work, times a scale factor (`--timeout-scale`, for slow hosts). A step
 * that takes longer fails with the time it took; it never waits forever.
 */
import type { Manifest } from "../manifest/schema.ts";
import type { StepId } from "./matrix.ts";

/** Margins for what the manifest does not describe: creating containers, a daemon booting. */
export const MARGINS = {
  /** Creating the network, volumes, secrets and containers of an app (local images). */
  createMs: 60_000,
  /** An operation being picked up and its result observed. */
  operationMs: 30_000,
  /** A daemon starting, reading its store and connecting to Podman. */
  daemonBootMs: 60_000,
  /** A node booting (the systemd node: systemd, the user's manager, the Podman socket). */
  nodeBootMs: 240_000,
} as const;

/**
 * How long an app may take to be healthy once started: for each container in turn (a `depends_on`
 * chain starts them one after another), its health check's start period, then enough probes to
 * pass (`retries` + 1 intervals, each up to the probe timeout). Containers without a health check
 * count as ready once running.
 */
export function readyMs(manifest: Manifest): number {
  let total = 0;
  for (const container of Object.values(manifest.containers)) {
    const health = container.health;
    if (!health) continue;
    total += health.start_period + (health.retries + 1) * (health.interval + health.timeout);
  }
  return total;
}

/** How long stopping every container may take: they stop one after another, each up to its stop timeout. */
export function stopMs(manifest: Manifest): number {
  return Object.values(manifest.containers).reduce((sum, c) => sum + c.stop_timeout, 0);
}

/** The time limits of a hook's steps (`copy_from_host` steps are bounded by the operation margin). */
function hookMs(manifest: Manifest, hook: keyof Manifest["hooks"]): number {
  return manifest.hooks[hook].reduce(
    (sum, step) => sum + ("exec" in step ? step.exec.timeout : "wait" in step ? step.wait.timeout : 0),
    0,
  );
}

export type StepTimeouts = Record<StepId, number>;

/**
 * Every step's time limit for `manifest`; `dependencies` are the manifests of the apps it depends on
 * (an install waits for them to be healthy, e.g. after a fault took one down).
 */
export function stepTimeouts(
  manifest: Manifest,
  dependencies: readonly Manifest[] = [],
  scale = 1,
): StepTimeouts {
  const ready = readyMs(manifest) + dependencies.reduce((sum, d) => sum + readyMs(d), 0);
  const stop = stopMs(manifest);
  const { createMs, operationMs, daemonBootMs, nodeBootMs } = MARGINS;
  const install =
    createMs + operationMs + ready + hookMs(manifest, "post_install") + hookMs(manifest, "pre_start");
  const start = operationMs + ready + hookMs(manifest, "pre_start");
  const uninstall = operationMs + stop + hookMs(manifest, "pre_uninstall");
  const raw: StepTimeouts = {
    install,
    ui: operationMs + ready,
    stop: operationMs + stop,
    start,
    restart: operationMs + stop + ready + hookMs(manifest, "pre_start"),
    "daemon-restart": daemonBootMs + operationMs + ready,
    reboot: nodeBootMs + daemonBootMs + ready,
    reinstall: stop + install,
    uninstall,
    "install-again": install,
    purge: uninstall + hookMs(manifest, "pre_purge"),
  };
  const factor = scale > 0 && Number.isFinite(scale) ? scale : 1;
  return Object.fromEntries(
    Object.entries(raw).map(([step, ms]) => [step, Math.round(ms * factor)]),
  ) as StepTimeouts;
}
