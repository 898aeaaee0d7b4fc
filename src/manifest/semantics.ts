/**
 * The second level of validation: rules JSON Schema cannot express. References resolve, names and
 * ports do not clash, `depends_on` has no cycle, health checks make sense, and the security policy
 * holds. Pure: a manifest in, findings out.
 */
import semver from "semver";
import { checkAccess, publishedBind } from "./access.ts";
import { RESERVED_NAME, RESERVED_SECRET_NAMES } from "./consumers.ts";
import { checkTemplates } from "./interpolation.ts";
import { bindsOverlap } from "./ip-address.ts";
import { type Finding, formatPath, type PathSegment } from "./issues.ts";
import { CURRENT_NAMING, containerName, reservedNameProblem } from "./naming.ts";
import { checkProcessLimits } from "./process-limits.ts";
import { checkRenderable } from "./renderable.ts";
import {
  type HookStepSpec,
  type Manifest,
  MIN_MEMORY_BYTES,
  memorySize,
  stepContainer,
  stepKind,
} from "./schema.ts";
import { checkSecurity, mountPoints } from "./security.ts";
import { closest } from "./suggest.ts";

const MAX_STOP_TIMEOUT_MS = 10 * 60 * 1000;
/** Starting a command in a container alone can take this long: a hook step must be given at least it. */
const MIN_HOOK_TIMEOUT_MS = 1000;

export function checkSemantics(manifest: Manifest): Finding[] {
  return [
    ...checkReferences(manifest),
    ...checkTemplates(manifest),
    ...checkConsumers(manifest),
    ...checkNames(manifest),
    ...checkClashes(manifest),
    ...checkStackOrder(manifest),
    ...checkHealth(manifest),
    ...checkJobs(manifest),
    ...checkLimits(manifest),
    ...checkProcessLimits(manifest),
    ...checkSecurity(manifest),
    ...checkRenderable(manifest),
    ...checkAccess(manifest),
  ];
}

/** Every list of hook steps but the backup's: the lifecycle hooks and the consumers' provision and deprovision, with where each is. */
function hookStepLists(manifest: Manifest): Array<[PathSegment[], HookStepSpec[]]> {
  const lists = Object.entries(manifest.hooks).map(([hook, steps]): [PathSegment[], HookStepSpec[]] => [
    ["hooks", hook],
    steps,
  ]);
  if (manifest.consumers)
    lists.push(
      [["consumers", "provision"], manifest.consumers.provision],
      [["consumers", "deprovision"], manifest.consumers.deprovision],
    );
  return lists;
}

/**
 * A consumer secret is given to the provision steps as ARCHY_CONSUMER_<NAME> beside
 * ARCHY_CONSUMER_APP and ARCHY_CONSUMER_NAME, and read as `${consumer:APP/<name>}` beside `name`:
 * those two names are taken.
 */
function checkConsumers(manifest: Manifest): Finding[] {
  return Object.keys(manifest.consumers?.secrets ?? {})
    .filter((name) => RESERVED_SECRET_NAMES.includes(name))
    .map((name) => ({
      path: ["consumers", "secrets", name],
      message: `a consumer secret cannot be named ${name}: ${name === RESERVED_NAME ? `\`\${consumer:APP/name}\` is the consumer's name` : "the provision steps' ARCHY_CONSUMER_APP is the consumer's id"}`,
      fix: `rename it, e.g. ${name}-secret`,
      rule: "consumers.reserved",
      at: "key" as const,
    }));
}

function missing(
  path: PathSegment[],
  what: string,
  name: string,
  known: string[],
  declareHint: string,
  rule: string,
): Finding {
  const guess = closest(name, known);
  return {
    path,
    message: `${what} ${JSON.stringify(name)} is not declared`,
    fix: guess
      ? `did you mean ${JSON.stringify(guess)}?`
      : known.length > 0
        ? `use one of: ${known.join(", ")}`
        : declareHint,
    rule,
  };
}

function checkReferences(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const secrets = Object.keys(manifest.secrets);
  const containers = Object.keys(manifest.containers);
  const dependencies = manifest.dependencies.map((d) => d.id);
  const secretRef = (path: PathSegment[], name: string) => {
    if (!secrets.includes(name))
      findings.push(missing(path, "secret", name, secrets, "declare it under `secrets`", "ref.secret"));
  };
  // `at: "key"` where the reference is the key itself (depends_on, adoption), so the key is marked.
  const containerRef = (path: PathSegment[], name: string, at: "key" | "value" = "value") => {
    if (!containers.includes(name))
      findings.push({
        ...missing(path, "container", name, containers, "use a key of `containers`", "ref.container"),
        at,
      });
  };

  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    for (const [variable, value] of Object.entries(container.environment)) {
      if (typeof value !== "object") continue;
      if ("secret" in value) secretRef([...at, "environment", variable, "secret"], value.secret);
      else if (!dependencies.includes(value.app))
        findings.push({
          path: [...at, "environment", variable, "app"],
          message: `${JSON.stringify(value.app)} is not one of this app's dependencies, so its exports cannot be used`,
          fix: `add { id: ${value.app} } under \`dependencies\``,
          rule: "ref.dependency",
        });
    }
    for (const [index, file] of container.secrets.entries())
      if ("secret" in file) secretRef([...at, "secrets", index, "secret"], file.secret);
      else if (!dependencies.includes(file.app))
        findings.push({
          path: [...at, "secrets", index, "app"],
          message: `${JSON.stringify(file.app)} is not one of this app's dependencies, so its consumer values cannot be used`,
          fix: `add { id: ${file.app} } under \`dependencies\``,
          rule: "ref.dependency",
        });
    for (const dep of Object.keys(container.depends_on)) {
      if (dep === key)
        findings.push({
          path: [...at, "depends_on", dep],
          message: "a container cannot depend on itself",
          fix: `remove ${dep}`,
          rule: "cycle.depends-on",
          at: "key",
        });
      else containerRef([...at, "depends_on", dep], dep, "key");
    }
  }
  for (const [index, credential] of manifest.credentials.entries())
    secretRef(["credentials", index, "secret"], credential.secret);
  for (const [name, value] of Object.entries(manifest.exports)) {
    if ("secret" in value) secretRef(["exports", name, "secret"], value.secret);
    if ("host" in value) containerRef(["exports", name, "host"], value.host);
  }
  for (const [name, ui] of Object.entries(manifest.interfaces)) {
    const container = manifest.containers[ui.container];
    if (!container) {
      containerRef(["interfaces", name, "container"], ui.container);
      continue;
    }
    if (!container.ports.some((p) => p.container === ui.port && p.protocol === "tcp"))
      findings.push({
        path: ["interfaces", name, "port"],
        message: `port ${ui.port} is not a tcp port of container ${ui.container}`,
        fix: `add { container: ${ui.port}, host: <port> } to containers.${ui.container}.ports`,
        rule: "ref.port",
      });
  }
  for (const [at, steps] of hookStepLists(manifest)) {
    for (const [index, step] of steps.entries()) {
      containerRef([...at, index, stepKind(step), "container"], stepContainer(step));
      const waited = "wait" in step ? manifest.containers[step.wait.container] : undefined;
      if ("wait" in step && waited && !waited.health)
        findings.push({
          path: [...at, index, "wait", "container"],
          message: `waits for ${step.wait.container} to be healthy, but ${step.wait.container} has no health check`,
          fix: `add a \`health\` check to containers.${step.wait.container}`,
          rule: "health.hook-wait",
        });
    }
  }
  const volumes = new Set(
    Object.values(manifest.containers).flatMap((c) =>
      c.volumes.map((v) => v.name).filter((n) => n !== undefined),
    ),
  );
  for (const key of Object.keys(manifest.adoption.containers))
    containerRef(["adoption", "containers", key], key, "key");
  for (const section of ["volumes", "data_paths"] as const) {
    for (const volume of Object.keys(manifest.adoption[section])) {
      if (!volumes.has(volume))
        findings.push({
          ...missing(
            ["adoption", section, volume],
            "app volume",
            volume,
            [...volumes],
            "mount a volume with this `name` in a container",
            "ref.volume",
          ),
          at: "key",
        });
    }
  }
  for (const [index, volume] of (manifest.backup.volumes ?? []).entries())
    if (!volumes.has(volume))
      findings.push(
        missing(
          ["backup", "volumes", index],
          "app volume",
          volume,
          [...volumes],
          "name a volume mounted with this `name` in a container",
          "ref.volume",
        ),
      );
  for (const hook of ["pre_backup", "post_backup"] as const)
    for (const [index, step] of manifest.backup[hook].entries())
      containerRef(["backup", hook, index, "exec", "container"], step.exec.container);
  if (manifest.backup.consistency === "hooks" && manifest.backup.pre_backup.length === 0)
    findings.push({
      path: ["backup", "consistency"],
      message: "consistency `hooks` needs a `pre_backup` step that makes the data consistent",
      fix: "add a pre_backup exec step (e.g. a database dump into a volume), or use consistency: stop",
      rule: "ref.backup-hook",
    });
  const seenDeps = new Set<string>();
  for (const [index, dependency] of manifest.dependencies.entries()) {
    const at: PathSegment[] = ["dependencies", index];
    if (dependency.id === manifest.id)
      findings.push({
        path: [...at, "id"],
        message: "an app cannot depend on itself",
        fix: "remove this dependency",
        rule: "cycle.dependency",
      });
    if (seenDeps.has(dependency.id))
      findings.push({
        path: [...at, "id"],
        message: `dependency ${dependency.id} is listed twice`,
        fix: "keep one entry",
        rule: "clash.dependency",
      });
    seenDeps.add(dependency.id);
    if (semver.validRange(dependency.version) === null)
      findings.push({
        path: [...at, "version"],
        message: `${JSON.stringify(dependency.version)} is not a semver range`,
        fix: 'write a range such as ">=1.2.0 <2.0.0" or "^1.2"',
        rule: "schema.format",
      });
  }
  return findings;
}

/**
 * The app id and explicit container names stay out of what the platform names itself, so that no
 * app can ever take the name of another app's network, volume, secret or stack container, nor of
 * their units or the daemon's (see naming.ts).
 */
function checkNames(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const idProblem = reservedNameProblem(manifest.id, "id");
  if (idProblem)
    findings.push({
      path: ["id"],
      message: `the id ${manifest.id} cannot be used: ${idProblem}`,
      fix: "choose another id",
      rule: "naming.reserved",
    });
  for (const [key, container] of Object.entries(manifest.containers)) {
    const explicit = container.container_name;
    const problem = explicit === undefined ? undefined : reservedNameProblem(explicit, "container_name");
    if (problem)
      findings.push({
        path: ["containers", key, "container_name"],
        message: `the container name ${explicit} cannot be used: ${problem}`,
        fix: "choose another container_name, or leave it out to get the generated one",
        rule: "naming.reserved",
      });
  }
  return findings;
}

function checkClashes(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const hostPorts = new Map<string, PathSegment[]>();
  const names = new Map<string, PathSegment[]>();
  const dnsNames = new Map<string, PathSegment[]>();
  const clash = (path: PathSegment[], message: string, first: PathSegment[], fix: string, rule: string) =>
    findings.push({ path, message: `${message} (also at ${formatPath(first)})`, fix, rule });

  for (const key of Object.keys(manifest.containers)) dnsNames.set(key, ["containers", key]);
  // Names first, then legacy names: a legacy name clashes whichever container comes first.
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    const name = containerName(manifest, key, CURRENT_NAMING);
    const previous = names.get(name);
    // Point at the explicit `container_name` when there is one, else at the container's key.
    const where: PathSegment[] = container.container_name ? [...at, "container_name"] : at;
    if (previous)
      findings.push({
        path: where,
        message: `container name ${name} is used twice (also at ${formatPath(previous)})`,
        fix: "give each container a distinct `container_name`",
        rule: "clash.container-name",
        at: container.container_name ? "value" : "key",
      });
    else names.set(name, at);
  }
  for (const [key, legacyNames] of Object.entries(manifest.adoption.containers)) {
    const at: PathSegment[] = ["containers", key];
    for (const [index, legacy] of legacyNames.entries()) {
      const owner = names.get(legacy);
      if (owner && owner.join(".") !== at.join("."))
        clash(
          ["adoption", "containers", key, index],
          `legacy name ${legacy} is already the name or legacy name of another container`,
          owner,
          "remove the legacy name",
          "clash.container-name",
        );
      else if (!owner) names.set(legacy, ["adoption", "containers", key, index]);
    }
  }
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    for (const [index, port] of container.ports.entries()) {
      if (port.host === undefined) continue;
      const bind = publishedBind(manifest, key, port);
      for (const [other, otherPath] of hostPorts) {
        const [otherPort, otherProtocol, otherBind] = other.split("|");
        if (
          otherPort === String(port.host) &&
          otherProtocol === port.protocol &&
          bindsOverlap(otherBind as string, bind)
        )
          clash(
            [...at, "ports", index, "host"],
            `host port ${port.host}/${port.protocol} is published twice`,
            otherPath,
            "choose a different host port",
            "clash.host-port",
          );
      }
      hostPorts.set(`${port.host}|${port.protocol}|${bind}`, [...at, "ports", index]);
    }
    const seenContainerPorts = new Set<string>();
    for (const [index, port] of container.ports.entries()) {
      const id = `${port.container}/${port.protocol}`;
      if (seenContainerPorts.has(id))
        findings.push({
          path: [...at, "ports", index, "container"],
          message: `container port ${id} is listed twice`,
          fix: "list each container port once",
          rule: "clash.container-port",
        });
      seenContainerPorts.add(id);
    }

    for (const [index, alias] of container.aliases.entries()) {
      const owner = dnsNames.get(alias);
      if (owner && !(owner[0] === "containers" && owner[1] === key && owner.length === 2))
        clash(
          [...at, "aliases", index],
          `alias ${alias} is already a name on the app network`,
          owner,
          "choose another alias",
          "clash.alias",
        );
      else dnsNames.set(alias, [...at, "aliases", index]);
    }

    const mounts = new Map<string, PathSegment[]>();
    for (const { mountPath, path } of mountPoints(container, at)) {
      const first = mounts.get(mountPath);
      if (first)
        clash(
          path,
          `${mountPath} is mounted twice in this container`,
          first,
          "mount each path once",
          "clash.mount",
        );
      else mounts.set(mountPath, path);
    }
  }
  return findings;
}

/** Finds a `depends_on` cycle and names it, e.g. `web → db → web`. */
function checkStackOrder(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (key: string): void => {
    state.set(key, "visiting");
    stack.push(key);
    for (const dep of Object.keys(manifest.containers[key]?.depends_on ?? {})) {
      if (dep === key || !manifest.containers[dep]) continue;
      if (state.get(dep) === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        findings.push({
          path: ["containers", key, "depends_on", dep],
          message: `depends_on forms a cycle: ${cycle.join(" → ")}`,
          fix: "remove one of these depends_on entries so the containers can start in order",
          rule: "cycle.depends-on",
          at: "key",
        });
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(key, "done");
  };
  for (const key of Object.keys(manifest.containers)) if (!state.has(key)) visit(key);

  for (const [key, container] of Object.entries(manifest.containers)) {
    for (const [dep, condition] of Object.entries(container.depends_on)) {
      if (condition === "healthy" && manifest.containers[dep] && !manifest.containers[dep].health)
        findings.push({
          path: ["containers", key, "depends_on", dep],
          message: `waits for ${dep} to be healthy, but ${dep} has no health check`,
          fix: `add a \`health\` check to containers.${dep}, or use \`started\``,
          rule: "health.depends-on",
          at: "key",
        });
    }
  }
  return findings;
}

/**
 * One-shot jobs: what waits for one waits for its completion (and only a job completes); a job is
 * not up once it completed, so nothing probes it, serves through it or runs a hook step in it.
 */
function checkJobs(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    for (const [dep, condition] of Object.entries(container.depends_on)) {
      const job = manifest.containers[dep]?.job;
      if (job === undefined || job === (condition === "completed")) continue;
      findings.push({
        path: ["containers", key, "depends_on", dep],
        message: job
          ? `${dep} is a job: it exits once done, so being ${condition === "healthy" ? "healthy" : "running"} is no state to wait for`
          : `waits for ${dep} to complete, but ${dep} is not a job (it runs until stopped)`,
        fix: job
          ? `use \`${dep}: completed\``
          : `add \`job: true\` to containers.${dep}, or use \`started\` or \`healthy\``,
        rule: "job.depends-on",
        at: "key",
      });
    }
    if (!container.job) continue;
    if (container.health)
      findings.push({
        path: ["containers", key, "health"],
        message: `${key} is a job: it exits once done, so it has no health to probe`,
        fix: `remove containers.${key}.health (containers that need it done use \`depends_on: { ${key}: completed }\`)`,
        rule: "job.health",
        at: "key",
      });
    for (const [name, ui] of Object.entries(manifest.interfaces))
      if (ui.container === key)
        findings.push({
          path: ["interfaces", name, "container"],
          message: `${key} is a job: it exits once done, so it cannot serve an interface`,
          fix: "serve the interface from a container that keeps running",
          rule: "job.serves",
        });
    for (const [at, steps] of hookStepLists(manifest))
      for (const [index, step] of steps.entries())
        if (stepContainer(step) === key && !("copy_from_host" in step))
          findings.push({
            path: [...at, index, stepKind(step), "container"],
            message: `${key} is a job: it is not running once done, so a hook step cannot ${"exec" in step ? "run in" : "wait for"} it`,
            fix: "run the step in a container that keeps running, or make it part of the job's command",
            rule: "job.serves",
          });
  }
  return findings;
}

function checkHealth(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  for (const [key, container] of Object.entries(manifest.containers)) {
    const health = container.health;
    if (!health) continue;
    const at: PathSegment[] = ["containers", key, "health"];
    if (health.timeout >= health.interval)
      findings.push({
        path: [...at, "timeout"],
        message: `timeout (${health.timeout} ms) must be shorter than interval (${health.interval} ms)`,
        fix: "lower `timeout` or raise `interval`",
        rule: "health.timing",
      });
    if (health.interval < 1000)
      findings.push({
        path: [...at, "interval"],
        message: "probing more than once a second would load the node",
        fix: "use an interval of 1s or more",
        rule: "health.timing",
      });
    if (health.timeout < 100)
      findings.push({
        path: [...at, "timeout"],
        message: "a timeout under 100 ms fails on any loaded node",
        fix: "use a timeout of 1s or more",
        rule: "health.timing",
      });
    if (
      health.type !== "exec" &&
      !container.ports.some((p) => p.container === health.port && p.protocol === "tcp")
    )
      findings.push({
        path: [...at, "port"],
        message: `port ${health.port} is not a tcp port of this container`,
        fix: `add { container: ${health.port} } to containers.${key}.ports`,
        rule: "health.port",
      });
  }
  return findings;
}

/**
 * Why a stop signal is refused: SIGKILL and SIGSTOP cannot be caught, so the process never gets the
 * chance to stop cleanly that a stop signal is for. Undefined for every other signal.
 */
export function uncatchableSignal(name: string): { message: string; fix: string } | undefined {
  if (name !== "SIGKILL" && name !== "SIGSTOP") return undefined;
  return {
    message: `${name} cannot be caught, so the process gets no chance to stop cleanly (${name === "SIGKILL" ? "it is killed at once" : "it is frozen, then killed when stop_timeout runs out"})`,
    fix: "remove `stop_signal` (the image's own, usually SIGTERM, is sent) or name a signal the process handles, such as SIGTERM or SIGINT; `stop_timeout` bounds how long a stop waits before SIGKILL",
  };
}

function checkLimits(manifest: Manifest): Finding[] {
  const findings: Finding[] = [];
  if (Object.keys(manifest.containers).length === 0)
    findings.push({
      path: ["containers"],
      message: "an app needs at least one container",
      fix: "add a container under `containers`, e.g. web: { image: docker.io/library/nginx:1.27 }",
      rule: "schema.missing",
    });
  for (const [key, container] of Object.entries(manifest.containers)) {
    const at: PathSegment[] = ["containers", key];
    if (container.memory !== undefined && container.memory < MIN_MEMORY_BYTES)
      findings.push({
        path: [...at, "memory"],
        message: "a memory limit below 6 MiB cannot start a container",
        fix: `use at least ${memorySize(MIN_MEMORY_BYTES)}`,
        rule: "limits.memory",
      });
    // Podman stops a container with a timeout of 0 by SIGKILL alone: the stop signal is never sent.
    if (container.stop_timeout === 0)
      findings.push({
        path: [...at, "stop_timeout"],
        message:
          "a stop timeout of 0 kills the container at once with SIGKILL, without sending its stop signal: the process gets no chance to stop cleanly",
        fix: "use at least 1s, or remove `stop_timeout` for the default 10s",
        rule: "limits.stop-timeout",
      });
    const uncatchable = container.stop_signal && uncatchableSignal(container.stop_signal);
    if (uncatchable)
      findings.push({ path: [...at, "stop_signal"], ...uncatchable, rule: "limits.stop-signal" });
    if (container.stop_timeout > MAX_STOP_TIMEOUT_MS)
      findings.push({
        path: [...at, "stop_timeout"],
        message: "a stop timeout over 10 minutes would make stops look stuck",
        fix: "use at most 10m",
        rule: "limits.stop-timeout",
      });
    if (container.volumes.length > 0 && container.data_uid === undefined && container.user !== undefined)
      findings.push({
        path: [...at, "data_uid"],
        message: `the container runs as ${container.user} but does not say which uid owns its volumes`,
        fix: `add data_uid: ${container.user.split(":")[0]}`,
        rule: "limits.data-uid",
      });
  }
  const hookLists: Array<[PathSegment[], HookStepSpec[]]> = [
    ...hookStepLists(manifest),
    [["backup", "pre_backup"], manifest.backup.pre_backup],
    [["backup", "post_backup"], manifest.backup.post_backup],
  ];
  for (const [at, steps] of hookLists)
    for (const [index, step] of steps.entries())
      if ("exec" in step && step.exec.timeout < MIN_HOOK_TIMEOUT_MS)
        findings.push({
          path: [...at, index, "exec", "timeout"],
          message: `a timeout of ${step.exec.timeout} ms ends the command before it can start: the step would always fail`,
          fix: "use at least 1s, or remove `timeout` for the default 60s",
          rule: "limits.hook-timeout",
        });
  return findings;
}
