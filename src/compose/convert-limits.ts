/**
 * A service's `shm_size` and `ulimits` as the manifest's: a /dev/shm of that size, and the resource
 * limits Podman gives a rootless container. What cannot be carried over (an unlimited value, which
 * a rootless container cannot be given; a name Linux does not have) is a line of the report. Pure.
 */
import { memorySize, ULIMIT_NAMES } from "../manifest/schema.ts";
import type { Conversion } from "./convert-context.ts";
import type { ProjectService } from "./project.ts";
import { sizeBytes } from "./units.ts";

export type ProcessLimits = {
  shm_size?: number | string;
  ulimits?: Record<string, number | { soft: number; hard: number }>;
};

export function convertProcessLimits(conversion: Conversion, service: ProjectService): ProcessLimits {
  const out: ProcessLimits = {};
  const { spec } = service;
  if (spec.shm_size !== undefined) {
    const bytes = sizeBytes(spec.shm_size);
    if (bytes === undefined || bytes === 0)
      conversion.note(
        "decide",
        service,
        ["shm_size"],
        `not carried over: ${spec.shm_size} is not a size`,
        "write the size as 256m or 1g",
      );
    else {
      const text = memorySize(bytes);
      out.shm_size = /^\d+$/.test(text) ? bytes : text;
    }
  }
  const ulimits = spec.ulimits;
  if (ulimits !== undefined && ulimits !== null && typeof ulimits === "object") {
    const limits: NonNullable<ProcessLimits["ulimits"]> = {};
    for (const [name, written] of Object.entries(ulimits as Record<string, unknown>)) {
      const sub = ["ulimits", name];
      const limit = ulimitOf(written);
      if (!(ULIMIT_NAMES as readonly string[]).includes(name))
        conversion.note("decide", service, sub, `not carried over: ${name} is not a resource limit of Linux`);
      else if (limit === "unlimited")
        conversion.note(
          "review",
          service,
          sub,
          `not carried over: ${name} unlimited (-1) cannot be given to a rootless container, which gets the node's limit for its user`,
          `check that the app starts with it; write a number in the manifest's ulimits.${name} if it needs more than the default`,
        );
      else if (limit === undefined || limit.soft > limit.hard)
        conversion.note(
          "decide",
          service,
          sub,
          `not carried over: ${JSON.stringify(written)} is not a limit (a number, or soft and hard with soft no higher)`,
          `write ulimits.${name} in the manifest`,
        );
      else limits[name] = limit.soft === limit.hard ? limit.soft : limit;
    }
    if (Object.keys(limits).length > 0) out.ulimits = limits;
  }
  return out;
}

function ulimitOf(written: unknown): { soft: number; hard: number } | "unlimited" | undefined {
  const number = (value: unknown) => {
    const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    return typeof n === "number" && Number.isSafeInteger(n) && n >= -1 ? n : undefined;
  };
  const [soft, hard] =
    typeof written === "object" && written !== null
      ? [number((written as { soft?: unknown }).soft), number((written as { hard?: unknown }).hard)]
      : [number(written), number(written)];
  if (soft === undefined || hard === undefined) return undefined;
  if (soft === -1 || hard === -1) return "unlimited";
  return { soft, hard };
}
