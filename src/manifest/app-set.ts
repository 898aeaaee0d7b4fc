/**
 * Rules across several manifests validated together (an apps directory, a catalog): ids are unique,
 * host ports and container names do not clash between apps, dependencies form no cycle, and what an
 * app consumes from a dependency in the set exists there.
 */

import semver from "semver";
import { publishedBind } from "./access.ts";
import { versionSatisfies } from "./app-version.ts";
import { RESERVED_NAME } from "./consumers.ts";
import { environmentTemplates } from "./interpolation.ts";
import { bindsOverlap } from "./ip-address.ts";
import type { Finding, PathSegment } from "./issues.ts";
import { CURRENT_NAMING, containerName } from "./naming.ts";
import type { Manifest } from "./schema.ts";
import { closest } from "./suggest.ts";

export type SetMember = { manifest: Manifest; file: string };
export type SetFinding = Finding & { file: string };

export function checkAppSet(members: SetMember[]): SetFinding[] {
  const findings: SetFinding[] = [];
  const byId = new Map<string, SetMember>();
  for (const member of members) {
    const first = byId.get(member.manifest.id);
    if (first)
      findings.push({
        file: member.file,
        path: ["id"],
        message: `app id ${member.manifest.id} is also used by ${first.file}`,
        fix: "give each app a unique id",
        rule: "set.duplicate-id",
      });
    else byId.set(member.manifest.id, member);
  }

  // A clash is reported on every app that publishes the port, each naming the others: apps on
  // distinct addresses share a port, so each publisher is compared with all the others.
  type Publisher = { member: SetMember; path: PathSegment[]; bind: string };
  const published = new Map<string, Publisher[]>();
  for (const member of members)
    for (const [key, container] of Object.entries(member.manifest.containers))
      for (const [index, port] of container.ports.entries()) {
        if (port.host === undefined) continue;
        const id = `${port.host}/${port.protocol}`;
        const path: PathSegment[] = ["containers", key, "ports", index, "host"];
        const bind = publishedBind(member.manifest, key, port);
        published.set(id, [...(published.get(id) ?? []), { member, path, bind }]);
      }
  for (const [id, publishers] of published)
    for (const publisher of publishers) {
      const others = new Set(
        publishers
          .filter((p) => p.member !== publisher.member && bindsOverlap(p.bind, publisher.bind))
          .map((p) => p.member),
      );
      if (others.size > 0)
        findings.push({
          file: publisher.member.file,
          path: publisher.path,
          message: `host port ${id} is also published by ${[...others].map((o) => `app ${o.manifest.id} (${o.file})`).join(", ")}`,
          fix: "choose a host port no other app uses",
          rule: "set.host-port",
        });
    }

  for (const member of members) {
    const { manifest } = member;
    for (const [index, dependency] of manifest.dependencies.entries()) {
      const target = byId.get(dependency.id);
      if (
        target &&
        semver.validRange(dependency.version) &&
        !versionSatisfies(target.manifest.version, dependency.version)
      )
        findings.push({
          file: member.file,
          path: ["dependencies", index, "version"],
          message: `${dependency.id} ${target.manifest.version} does not satisfy ${dependency.version}`,
          fix: `widen the range to include ${target.manifest.version}, or update ${dependency.id}`,
          rule: "set.dependency-version",
        });
      if (
        target &&
        dependency.state === "healthy" &&
        Object.values(target.manifest.containers).every((c) => !c.health)
      )
        findings.push({
          file: member.file,
          path: ["dependencies", index, "state"],
          message: `${dependency.id} has no health check, so it can only be waited for as running, not healthy`,
          fix: `write \`state: running\`, or give a container of ${dependency.id} a \`health\` check`,
          rule: "set.dependency-health",
        });
    }
    const exportRefs = [
      ...Object.entries(manifest.containers).flatMap(([key, container]) =>
        Object.entries(container.environment).flatMap(([variable, value]) =>
          typeof value === "object" && "export" in value
            ? [{ path: ["containers", key, "environment", variable, "export"] as PathSegment[], ...value }]
            : [],
        ),
      ),
      ...environmentTemplates(manifest).flatMap(({ path, parsed }) =>
        "message" in parsed
          ? []
          : parsed.flatMap((p) => (p.kind === "export" ? [{ path, app: p.app, export: p.export }] : [])),
      ),
    ];
    for (const value of exportRefs) {
      const target = byId.get(value.app);
      if (!target || target.manifest.exports[value.export]) continue;
      const known = Object.keys(target.manifest.exports);
      const guess = closest(value.export, known);
      findings.push({
        file: member.file,
        path: value.path,
        message: `app ${value.app} has no export ${JSON.stringify(value.export)}`,
        fix: guess
          ? `did you mean ${JSON.stringify(guess)}?`
          : known.length
            ? `use one of: ${known.join(", ")}`
            : `${value.app} exports nothing`,
        rule: "set.export",
      });
    }
    // What the app reads of its accounts: in values (its name too), and as files (a secret only).
    const consumerRefs = [
      ...environmentTemplates(manifest).flatMap(({ path, parsed }) =>
        ("message" in parsed ? [] : parsed).flatMap((part) =>
          part.kind === "consumer" ? [{ path, app: part.app, value: part.value, file: false }] : [],
        ),
      ),
      ...Object.entries(manifest.containers).flatMap(([key, container]) =>
        container.secrets.flatMap((file, index) =>
          "consumer" in file
            ? [
                {
                  path: ["containers", key, "secrets", index, "consumer"] as PathSegment[],
                  app: file.app,
                  value: file.consumer,
                  file: true,
                },
              ]
            : [],
        ),
      ),
    ];
    for (const { path, file, ...part } of consumerRefs) {
      const target = byId.get(part.app);
      if (!target) continue;
      const consumers = target.manifest.consumers;
      const known = [...(file ? [] : [RESERVED_NAME]), ...Object.keys(consumers?.secrets ?? {})];
      if (consumers && known.includes(part.value)) continue;
      const guess = closest(part.value, known);
      findings.push({
        file: member.file,
        path,
        message: consumers
          ? `app ${part.app} gives its consumers no value ${JSON.stringify(part.value)}`
          : `app ${part.app} declares no \`consumers\`, so it gives no account to its dependents`,
        fix: !consumers
          ? `use an export of ${part.app}, or declare \`consumers\` in ${part.app}'s manifest`
          : guess
            ? `did you mean ${JSON.stringify(guess)}?`
            : `use one of: ${known.join(", ")}`,
        rule: "set.consumer",
      });
    }
  }

  findings.push(...containerNameClashes(members));
  findings.push(...dependencyCycles(members, byId));
  return findings;
}

/**
 * A container name (generated, explicit or legacy to adopt) that another app of the set also takes:
 * both could never be installed together. Only explicit and legacy names can clash (naming.ts).
 */
function containerNameClashes(members: SetMember[]): SetFinding[] {
  type Taker = { member: SetMember; path: PathSegment[]; at?: "key" };
  const takers = new Map<string, Taker[]>();
  const take = (name: string, taker: Taker) => {
    const list = takers.get(name) ?? [];
    if (!list.some((t) => t.member === taker.member)) takers.set(name, [...list, taker]);
  };
  for (const member of members) {
    const { manifest } = member;
    for (const [key, container] of Object.entries(manifest.containers))
      take(
        containerName(manifest, key, CURRENT_NAMING),
        container.container_name
          ? { member, path: ["containers", key, "container_name"] }
          : { member, path: ["containers", key], at: "key" },
      );
    for (const [key, names] of Object.entries(manifest.adoption.containers))
      for (const [index, name] of names.entries())
        take(name, { member, path: ["adoption", "containers", key, index] });
  }
  const findings: SetFinding[] = [];
  for (const [name, list] of takers)
    for (const taker of list) {
      const others = list.filter((t) => t !== taker && t.member.manifest.id !== taker.member.manifest.id);
      if (others.length > 0)
        findings.push({
          file: taker.member.file,
          path: taker.path,
          message: `container name ${name} is also taken by ${others.map((o) => `app ${o.member.manifest.id} (${o.member.file})`).join(", ")}`,
          fix: "give the container another container_name (or drop the legacy name): two apps never share a name",
          rule: "set.container-name",
          ...(taker.at ? { at: taker.at } : {}),
        });
    }
  return findings;
}

function dependencyCycles(members: SetMember[], byId: Map<string, SetMember>): SetFinding[] {
  const findings: SetFinding[] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, "visiting");
    stack.push(id);
    const member = byId.get(id);
    for (const [index, dependency] of (member?.manifest.dependencies ?? []).entries()) {
      if (dependency.id === id || !byId.has(dependency.id)) continue;
      if (state.get(dependency.id) === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(dependency.id)), dependency.id];
        findings.push({
          file: member?.file ?? id,
          path: ["dependencies", index, "id"],
          message: `dependencies form a cycle: ${cycle.join(" → ")}`,
          fix: "remove one of these dependencies so the apps can start in order",
          rule: "set.dependency-cycle",
        });
      } else if (!state.has(dependency.id)) visit(dependency.id);
    }
    stack.pop();
    state.set(id, "done");
  };
  for (const member of members) if (!state.has(member.manifest.id)) visit(member.manifest.id);
  return findings;
}
