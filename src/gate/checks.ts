/**
 * What the gate checks, as pure functions of what it observed: the daemon's view (`package.get`)
 * and Podman's (one labelled list), compared with what a step must leave behind. Every verdict says
 * what was expected and what was observed, in words the report prints as they are.
 */

/** One container as Podman shows it. */
export type PodmanFact = {
  id: string;
  name: string;
  /** The container key (the platform's label). */
  key: string | undefined;
  state: string;
  /** Unix ms; undefined when never started. */
  startedAt: number | undefined;
  /** Who runs it: `quadlet` when a systemd unit does (its `PODMAN_SYSTEMD_UNIT` label). */
  backend?: "podman" | "quadlet";
};

/** The daemon's view of an app (`package.get`); undefined when the daemon says it is not installed. */
export type ApiFact =
  | {
      phase: string;
      desired: string;
      reason: string | null;
      observedAt: number | null;
      containers: Array<{ key: string; containerId: string; state: string; health: string }>;
    }
  | undefined;

export type Verdict = { ok: boolean; expected: string; observed: string };

const short = (id: string | undefined) => (id ? id.slice(0, 12) : "-");
const ACTIVE = new Set(["running", "paused", "stopping"]);

/** `web=running(3f2a1b9c0d12)` for each container, by key. */
export function describePodman(podman: readonly PodmanFact[]): string {
  if (podman.length === 0) return "no container";
  return [...podman]
    .sort((a, b) => (a.key ?? a.name).localeCompare(b.key ?? b.name))
    .map((c) => `${c.key ?? c.name}=${c.state}(${short(c.id)})`)
    .join(", ");
}

/** `phase running (desired running); web healthy(3f2a1b9c0d12)` or `not installed`. */
export function describeApi(api: ApiFact): string {
  if (!api) return "not installed";
  const reason = api.reason ? `, reason: ${api.reason}` : "";
  const containers = api.containers
    .map((c) => `${c.key} ${c.state}/${c.health}(${short(c.containerId)})`)
    .join(", ");
  return `phase ${api.phase} (desired ${api.desired}${reason})${containers ? `; ${containers}` : ""}`;
}

function observed(podman: readonly PodmanFact[], api: ApiFact): string {
  return `daemon: ${describeApi(api)}; Podman: ${describePodman(podman)}`;
}

/**
 * Running as the operator asked: the daemon says `running`, every container of the manifest runs in
 * Podman, is healthy by the daemon's probes, and the daemon's container ids are Podman's (the
 * operator sees the truth).
 */
export function checkRunning(keys: readonly string[], podman: readonly PodmanFact[], api: ApiFact): Verdict {
  const expected = `daemon: phase running; Podman: ${keys.map((k) => `${k}=running`).join(", ")}; every container healthy, same ids in both`;
  const problems: string[] = [];
  if (!api) problems.push("the daemon says it is not installed");
  else {
    if (api.phase !== "running") problems.push(`phase is ${api.phase}`);
    if (api.desired !== "running") problems.push(`desired is ${api.desired}`);
  }
  for (const key of keys) {
    const inPodman = podman.find((c) => c.key === key);
    if (!inPodman) problems.push(`${key}: no container in Podman`);
    else if (inPodman.state !== "running") problems.push(`${key}: ${inPodman.state} in Podman`);
    const inApi = api?.containers.find((c) => c.key === key);
    if (api && !inApi) problems.push(`${key}: unknown to the daemon`);
    if (inApi && inApi.health !== "healthy") problems.push(`${key}: ${inApi.health}`);
    if (inApi && inPodman && inApi.containerId !== inPodman.id)
      problems.push(`${key}: the daemon shows ${short(inApi.containerId)}, Podman ${short(inPodman.id)}`);
  }
  return { ok: problems.length === 0, expected, observed: withProblems(observed(podman, api), problems) };
}

/**
 * Really stopped: the daemon says `stopped` and no container of the app runs in Podman (a stop
 * that only the API believes is the seed's field failure).
 */
export function checkStopped(keys: readonly string[], podman: readonly PodmanFact[], api: ApiFact): Verdict {
  const expected = `daemon: phase stopped; Podman: ${keys.map((k) => `${k} not running`).join(", ")}`;
  const problems: string[] = [];
  if (!api) problems.push("the daemon says it is not installed");
  else {
    if (api.phase !== "stopped") problems.push(`phase is ${api.phase}`);
    if (api.desired !== "stopped") problems.push(`desired is ${api.desired}`);
  }
  for (const c of podman)
    if (ACTIVE.has(c.state)) problems.push(`${c.key ?? c.name} is ${c.state} in Podman`);
  return { ok: problems.length === 0, expected, observed: withProblems(observed(podman, api), problems) };
}

/** Uninstalled: the daemon no longer lists it, Podman has no container of it. */
export function checkRemoved(podman: readonly PodmanFact[], api: ApiFact): Verdict {
  const problems: string[] = [];
  if (api) problems.push(`the daemon still lists it (phase ${api.phase})`);
  if (podman.length > 0) problems.push(`${podman.length} container(s) left in Podman`);
  return {
    ok: problems.length === 0,
    expected: "daemon: not installed; Podman: no container",
    observed: withProblems(observed(podman, api), problems),
  };
}

type Snapshot = readonly PodmanFact[];

function pairs(before: Snapshot, after: Snapshot) {
  const keys = [...new Set([...before, ...after].map((c) => c.key ?? c.name))].sort();
  return keys.map((key) => ({
    key,
    before: before.find((c) => (c.key ?? c.name) === key),
    after: after.find((c) => (c.key ?? c.name) === key),
  }));
}

const at = (ms: number | undefined) => (ms === undefined ? "never" : new Date(ms).toISOString());

/** Not recreated and not restarted: the same container ids, started at the same time. */
export function checkUnchanged(before: Snapshot, after: Snapshot): Verdict {
  const problems: string[] = [];
  for (const { key, before: b, after: a } of pairs(before, after)) {
    if (!b || !a) problems.push(`${key}: ${b ? "gone" : "new"}`);
    else if (a.id !== b.id) problems.push(`${key}: recreated (${short(b.id)} -> ${short(a.id)})`);
    else if (a.startedAt !== b.startedAt)
      problems.push(`${key}: restarted (started ${at(b.startedAt)} -> ${at(a.startedAt)})`);
  }
  return {
    ok: problems.length === 0,
    expected: `the same containers, not restarted: ${describePodman(before)}`,
    observed: withProblems(describePodman(after), problems),
  };
}

/**
 * Restarted: each container started again after its last start — in place (the same id) for a
 * plain container; a Quadlet unit runs a new container at each start (`--rm`), so there a new id
 * started later is the restart.
 */
export function checkRestarted(before: Snapshot, after: Snapshot): Verdict {
  const problems: string[] = [];
  for (const { key, before: b, after: a } of pairs(before, after)) {
    if (!b || !a) problems.push(`${key}: ${b ? "gone" : "new"}`);
    else if (a.id !== b.id && b.backend !== "quadlet")
      problems.push(`${key}: recreated (${short(b.id)} -> ${short(a.id)}), not restarted`);
    else if ((a.startedAt ?? 0) <= (b.startedAt ?? 0))
      problems.push(`${key}: not started again (started ${at(a.startedAt)})`);
  }
  return {
    ok: problems.length === 0,
    expected: "each container started again: the same id (plain Podman) or its unit's new one (Quadlet)",
    observed: withProblems(describePodman(after), problems),
  };
}

/** Recreated: every container is a new one. */
export function checkRecreated(before: Snapshot, after: Snapshot): Verdict {
  const problems: string[] = [];
  for (const { key, before: b, after: a } of pairs(before, after)) {
    if (!a) problems.push(`${key}: missing`);
    else if (b && a.id === b.id) problems.push(`${key}: still ${short(a.id)}, not recreated`);
  }
  return {
    ok: problems.length === 0,
    expected: `new containers for ${describePodman(before)}`,
    observed: withProblems(describePodman(after), problems),
  };
}

/**
 * Back after a reboot: every container the app had before is there (the ids may differ: Quadlet
 * recreates containers at boot), running, and started after the reboot began (a container whose
 * start time is older did not go through the reboot).
 */
export function checkRebooted(before: Snapshot, after: Snapshot, rebootAt: number): Verdict {
  const problems: string[] = [];
  for (const { key, before: b, after: a } of pairs(before, after)) {
    if (!a) problems.push(`${key}: missing`);
    else if (!b) problems.push(`${key}: new, unknown before the reboot`);
    else if (a.state !== "running") problems.push(`${key}: ${a.state}`);
    else if (a.startedAt === undefined || a.startedAt <= rebootAt)
      problems.push(`${key}: not started since the reboot (started ${at(a.startedAt)})`);
  }
  return {
    ok: problems.length === 0,
    expected: `${describePodman(before)} running again, each started after the reboot at ${at(rebootAt)}`,
    observed: withProblems(
      [...after]
        .sort((x, y) => (x.key ?? x.name).localeCompare(y.key ?? y.name))
        .map((c) => `${c.key ?? c.name}=${c.state}(${short(c.id)}) started ${at(c.startedAt)}`)
        .join(", ") || "no container",
      problems,
    ),
  };
}

/**
 * Dependency order at boot: every container of the app started no earlier than every container of
 * each app it depends on (all of them started at all). `dependencies` are the containers of the
 * apps it depends on, as observed after the boot.
 */
export function checkStartOrder(
  containers: Snapshot,
  dependencies: ReadonlyArray<{ id: string; containers: Snapshot }>,
): Verdict {
  const problems: string[] = [];
  const name = (c: PodmanFact) => c.key ?? c.name;
  for (const dep of dependencies) {
    if (dep.containers.length === 0) problems.push(`${dep.id}: no container`);
    for (const d of dep.containers) {
      if (d.startedAt === undefined) {
        problems.push(`${dep.id}/${name(d)}: never started`);
        continue;
      }
      for (const c of containers)
        if (c.startedAt === undefined) problems.push(`${name(c)}: never started`);
        else if (c.startedAt < d.startedAt)
          problems.push(
            `${name(c)} started at ${at(c.startedAt)}, before ${dep.id}/${name(d)} (${at(d.startedAt)})`,
          );
    }
  }
  const started = (id: string, snapshot: Snapshot) =>
    snapshot.map((c) => `${id === "" ? "" : `${id}/`}${name(c)} ${at(c.startedAt)}`).join(", ");
  return {
    ok: problems.length === 0,
    expected:
      dependencies.length === 0
        ? "no dependency to start after"
        : `started after ${dependencies.map((d) => d.id).join(", ")}`,
    observed: withProblems(
      [started("", containers), ...dependencies.map((d) => started(d.id, d.containers))]
        .filter(Boolean)
        .join("; ") || "no container",
      [...new Set(problems)],
    ),
  };
}

/**
 * The data an app keeps across uninstall: files the gate planted in its volumes (name → content) and
 * its secrets (name → digest), compared with what was there before. Never the values themselves.
 */
export type DataFingerprint = {
  markers: Record<string, string | undefined>;
  secrets: Record<string, string | undefined>;
  /** A digest of the credentials `package.credentials` returned (undefined: not asked). */
  credentials?: string | undefined;
};

export function checkDataKept(before: DataFingerprint, now: DataFingerprint, what: string): Verdict {
  const problems: string[] = [];
  for (const [volume, content] of Object.entries(before.markers)) {
    const found = now.markers[volume];
    if (found === undefined) problems.push(`volume ${volume}: the marker file is gone`);
    else if (found !== content) problems.push(`volume ${volume}: the marker file changed`);
  }
  for (const [name, digest] of Object.entries(before.secrets)) {
    const found = now.secrets[name];
    if (found === undefined) problems.push(`secret ${name}: gone`);
    else if (found !== digest) problems.push(`secret ${name}: changed`);
  }
  if (
    before.credentials !== undefined &&
    now.credentials !== undefined &&
    before.credentials !== now.credentials
  )
    problems.push("the displayed credentials changed");
  const volumes = Object.keys(before.markers);
  const secrets = Object.keys(before.secrets);
  const expected =
    volumes.length + secrets.length === 0 && before.credentials === undefined
      ? `${what}: nothing to keep (no volume, no secret)`
      : `${what}: ${[
          volumes.length > 0 ? `marker files in ${volumes.join(", ")}` : "",
          secrets.length > 0 ? `secrets ${secrets.join(", ")}` : "",
          before.credentials !== undefined ? "credentials" : "",
        ]
          .filter(Boolean)
          .join(", ")} unchanged`;
  return {
    ok: problems.length === 0,
    expected,
    observed: problems.length === 0 ? "all unchanged" : problems.join("; "),
  };
}

/** Purged: the app's data directory and secrets are gone. */
export function checkPurged(dataDirExists: boolean, secretsExist: boolean): Verdict {
  const problems: string[] = [];
  if (dataDirExists) problems.push("its data directory is still there");
  if (secretsExist) problems.push("its secrets are still there");
  return {
    ok: problems.length === 0,
    expected: "data directory and secrets deleted",
    observed: problems.length === 0 ? "both deleted" : problems.join("; "),
  };
}

/** Several verdicts as one: ok when all are, their texts joined. */
export function allOf(...verdicts: Verdict[]): Verdict {
  return {
    ok: verdicts.every((v) => v.ok),
    expected: verdicts.map((v) => v.expected).join(" | "),
    observed: verdicts.map((v) => v.observed).join(" | "),
  };
}

function withProblems(text: string, problems: string[]): string {
  return problems.length === 0 ? text : `${problems.join("; ")} — ${text}`;
}
