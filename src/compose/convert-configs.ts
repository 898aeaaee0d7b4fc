/**
 * Compose configs (files given to a container: an nginx site, a database's init script) as app
 * files: the content goes into the app directory (`files/configs/<name>`) and a `pre_start`
 * `copy_from_host` hook puts it at its target before the container starts. Pure.
 */
import { posix } from "node:path";
import { isCanonicalAbsolute } from "../manifest/host-paths.ts";
import { pathProblem } from "../manifest/renderable.ts";
import { type Conversion, toLabel } from "./convert-context.ts";
import type { ProjectService } from "./project.ts";
import { hasMarker } from "./variables.ts";

export type AppDataFile = { path: string; content: string };
export type CopyStep = { copy_from_host: { from: string; container: string; to: string } };

export function convertConfigs(
  conversion: Conversion,
  service: ProjectService,
  key: string,
  files: Map<string, AppDataFile>,
): CopyStep[] {
  const steps: CopyStep[] = [];
  for (const [index, entry] of (service.spec.configs ?? []).entries()) {
    const sub = ["configs", index];
    const source = typeof entry === "string" ? entry : entry.source;
    if (source === undefined) {
      conversion.note(
        "decide",
        service,
        sub,
        "not carried over: the entry names no config (`source`)",
        "name one of the file's configs",
      );
      continue;
    }
    const target = typeof entry === "string" || entry.target === undefined ? `/${source}` : entry.target;
    const declared = conversion.project.top.configs?.[source];
    const content = declared?.content ?? conversion.project.configFiles.get(source);
    if (declared === undefined || content === undefined) {
      conversion.note(
        "decide",
        service,
        sub,
        declared === undefined
          ? `not carried over: the file declares no config ${source}`
          : `not carried over: the config ${source} comes from ${declared.environment !== undefined ? "an environment variable" : "outside the project (external)"}`,
        "write its content in the app directory and copy it in with a copy_from_host hook (pre_start)",
      );
      continue;
    }
    if (!isCanonicalAbsolute(target) || target === "/" || pathProblem(target)) {
      conversion.note(
        "decide",
        service,
        sub,
        `not carried over: the target ${target} is not an absolute file path of letters, digits and . _ - + @ ~`,
        "write where the file goes in the container",
      );
      continue;
    }
    if (hasMarker(content))
      conversion.note(
        "decide",
        service,
        sub,
        `the config ${source} uses a variable the platform fills only at install (a generated secret or the data directory); it is written as the compose file had it`,
        "have the app read the value from its environment",
      );
    const path = `files/configs/${toLabel(posix.basename(source), "config")}`;
    if (!files.has(source)) files.set(source, { path, content: conversion.restore(content) });
    steps.push({
      copy_from_host: { from: (files.get(source) as AppDataFile).path, container: key, to: target },
    });
    const owner =
      typeof entry === "object" &&
      (entry.uid !== undefined || entry.gid !== undefined || entry.mode !== undefined);
    conversion.note(
      "review",
      service,
      sub,
      "under the Quadlet backend, a pre_start copy lands right after the container starts (its unit makes a new container at each start): a program that reads the file only when it starts sees it at its next restart",
      "check that the app rereads the file, or have its command wait for it",
    );
    conversion.note(
      "info",
      service,
      sub,
      `the config ${source} is the app file ${path}, copied to ${target} before the container starts (a pre_start hook)${owner ? "; its uid, gid and mode are not carried over (the copy belongs to the container's data_uid or user, mode 0644)" : ""}`,
    );
  }
  return steps;
}
