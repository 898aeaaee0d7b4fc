import type { Manifest } from "../manifest/schema.ts";
import type { ReachTarget } from "./reachability.ts";
import type { StepTimeouts } from "./timeouts.ts";

/** One gated app, as the runner needs it. */
export type GateApp = {
  /** The id the operator named. */
  id: string;
  /** The id the daemon knows it by. */
  installedAs: string;
  manifest: Manifest;
  /** The containers that keep running: a job's, once completed, does not (it is not checked as one). */
  keys: string[];
  volumes: string[];
  targets: ReachTarget[];
  timeouts: StepTimeouts;
};
