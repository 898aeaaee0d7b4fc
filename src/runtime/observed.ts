/**
 * What the platform knows about its containers from one observation: the facts Podman reports,
 * reduced to the fields planning needs, with the backend that owns each container *observed* from
 * its labels rather than assumed from configuration.
 */
import { LABELS, OWNER } from "../manifest/naming.ts";
import type { ContainerSummary } from "./libpod/containers.ts";

/** Quadlet (and `podman generate systemd`) units set this label on the containers they run. */
export const SYSTEMD_UNIT_LABEL = "PODMAN_SYSTEMD_UNIT";

export type ContainerState =
  | "created"
  | "running"
  | "paused"
  | "stopping"
  | "exited"
  | "removing"
  | "unknown";
export type Backend = "podman" | "quadlet";

export type ObservedContainer = {
  id: string;
  name: string;
  /** The app and container key from the platform's labels; undefined for an adopted legacy container. */
  appId: string | undefined;
  key: string | undefined;
  specHash: string | undefined;
  image: string;
  state: ContainerState;
  exitCode: number;
  /** Unix milliseconds. */
  createdAt: number | undefined;
  /** Unix milliseconds; undefined when never started. */
  startedAt: number | undefined;
  finishedAt: number | undefined;
  backend: Backend;
  /** The systemd unit that runs it, for the Quadlet backend. */
  unit: string | undefined;
  labels: Record<string, string>;
  /**
   * Known only for a Quadlet container that is down (observed from its unit): whether its unit
   * starts it at boot (no stop drop-in). A stopped app's must not.
   */
  startsAtBoot?: boolean;
};

const KNOWN_STATES: ContainerState[] = ["created", "running", "paused", "stopping", "exited", "removing"];

function toState(state: string): ContainerState {
  if (state === "configured" || state === "initialized") return "created";
  if (state === "stopped" || state === "dead") return "exited";
  return (KNOWN_STATES as string[]).includes(state) ? (state as ContainerState) : "unknown";
}

/** Podman reports "never" as the zero time (year 1), i.e. a large negative unix time. */
function unixSecondsToMs(seconds: number): number | undefined {
  return seconds > 0 ? seconds * 1000 : undefined;
}

export function fromSummary(summary: ContainerSummary): ObservedContainer {
  const labels = summary.Labels ?? {};
  const unit = labels[SYSTEMD_UNIT_LABEL] || undefined;
  return {
    id: summary.Id,
    name: summary.Names[0] ?? summary.Id.slice(0, 12),
    appId: labels[LABELS.app],
    key: labels[LABELS.container],
    specHash: labels[LABELS.specHash],
    image: summary.Image,
    state: toState(summary.State),
    exitCode: summary.ExitCode,
    createdAt: Number.isNaN(Date.parse(summary.Created)) ? undefined : Date.parse(summary.Created),
    startedAt: unixSecondsToMs(summary.StartedAt),
    finishedAt: summary.Exited ? unixSecondsToMs(summary.ExitedAt) : undefined,
    backend: unit ? "quadlet" : "podman",
    unit,
    labels,
  };
}

/** The label filter that selects everything the platform manages. */
export const MANAGED_FILTER = `${LABELS.owner}=${OWNER}`;
