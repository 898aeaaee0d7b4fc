/**
 * What a cell keeps besides its verdict: the data fingerprints that prove data survived a step
 * (markers planted in volumes, digests of secrets and credentials), and, when a cell fails, the
 * evidence (expected, observed, the operation's log, the app's last lines, the daemon's last
 * warnings). Every secret value seen is redacted from whatever goes into the report.
 */
import { createHash } from "node:crypto";
import type { DaemonClient } from "../cli/client.ts";
import type { AppData } from "./app-data.ts";
import type { DataFingerprint, Verdict } from "./checks.ts";
import type { DaemonControl } from "./daemon-process.ts";
import type { GateApp } from "./gate-app.ts";
import { type ContainerFact, type Evidence, redact } from "./report.ts";
import type { Witness } from "./witness.ts";

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

export class EvidenceKeeper {
  readonly #client: DaemonClient;
  readonly #daemon: DaemonControl;
  readonly #data: AppData;
  readonly #witness: Witness;
  /** Secret values seen (files, credentials): removed from any text that goes into the report. */
  readonly #secrets = new Set<string>();

  constructor(options: { client: DaemonClient; daemon: DaemonControl; data: AppData; witness: Witness }) {
    this.#client = options.client;
    this.#daemon = options.daemon;
    this.#data = options.data;
    this.#witness = options.witness;
  }

  redact(text: string): string {
    return redact(text, [...this.#secrets]);
  }

  async rememberSecrets(app: GateApp): Promise<void> {
    const { values } = await this.#data.secrets(app.installedAs);
    for (const value of values) this.#secrets.add(value);
  }

  async #credentialsDigest(app: GateApp): Promise<string | undefined> {
    try {
      const credentials = await this.#client.call("package.credentials", {
        id: app.installedAs,
      });
      for (const c of credentials) if (c.password) this.#secrets.add(c.password);
      return digest(JSON.stringify(credentials));
    } catch {
      return undefined;
    }
  }

  /** Plants fresh markers in the app's volumes and takes its secrets' (and credentials') digests. */
  async baseline(app: GateApp, iteration: number, credentials: boolean): Promise<DataFingerprint> {
    const markers: Record<string, string> = {};
    for (const volume of app.volumes)
      markers[volume] = await this.#data.plantMarker(app.installedAs, volume, `iteration ${iteration}`);
    const { digests, values } = await this.#data.secrets(app.installedAs);
    for (const value of values) this.#secrets.add(value);
    return {
      markers,
      secrets: digests,
      ...(credentials ? { credentials: await this.#credentialsDigest(app) } : {}),
    };
  }

  /** The data as it is now, compared marker by marker with `baseline`. */
  async fingerprint(app: GateApp, baseline: DataFingerprint, credentials: boolean): Promise<DataFingerprint> {
    const markers: Record<string, string | undefined> = {};
    for (const volume of Object.keys(baseline.markers))
      markers[volume] = await this.#data.readMarker(app.installedAs, volume);
    const { digests } = await this.#data.secrets(app.installedAs);
    return {
      markers,
      secrets: digests,
      ...(credentials ? { credentials: await this.#credentialsDigest(app) } : {}),
    };
  }

  /** The app's containers as Podman shows them now (undefined when Podman does not answer). */
  async facts(app: GateApp): Promise<ContainerFact[] | undefined> {
    try {
      return (await this.#witness.podman(app)).map((c) => ({
        key: c.key,
        name: c.name,
        id: c.id,
        state: c.state,
      }));
    } catch {
      return undefined;
    }
  }

  async of(app: GateApp, verdict: Verdict, operationId: string | undefined): Promise<Evidence> {
    await this.rememberSecrets(app).catch(() => {});
    const evidence: Evidence = {
      expected: this.redact(verdict.expected),
      observed: this.redact(verdict.observed),
    };
    if (operationId)
      try {
        const op = await this.#client.call("operation.get", { id: operationId });
        evidence.operation = {
          id: op.id,
          kind: op.kind,
          state: op.state,
          error: op.error === null ? null : this.redact(op.error),
          log: op.logs.slice(-12).map((l) => this.redact(`${l.level} ${l.message}`)),
        };
      } catch {}
    try {
      const lines = await this.#client.call("package.logs", {
        id: app.installedAs,
        tail: 20,
      });
      evidence.logs = lines.slice(-20).map((l) => this.redact(`${l.container} ${l.stream}: ${l.line}`));
    } catch {}
    const daemonLog = this.#daemon.logTail(10).map((l) => this.redact(l));
    if (daemonLog.length > 0) evidence.daemonLog = daemonLog;
    return evidence;
  }
}
