/**
 * What a compose file says about its app outside the compose specification: CasaOS's `x-casaos`
 * extension (title, description, icon, category, links, the web UI's service, port, path and
 * scheme), read leniently (it is another tool's data) into one shape. Pure.
 */
import { CATEGORIES } from "../manifest/schema.ts";

export type AppMetadata = {
  title?: string;
  description?: string;
  tagline?: string;
  version?: string;
  category?: (typeof CATEGORIES)[number];
  icon?: string;
  links: { homepage?: string; source?: string; docs?: string; support?: string };
  ui?: { service?: string; hostPort?: string; path?: string; scheme?: string };
  /** Descriptions of a service's container paths and ports, for permission reasons. */
  serviceNotes: (service: Record<string, unknown>) => { volumes: Map<string, string> };
};

/** CasaOS categories that are not ours by name. */
const CATEGORY_NAMES: Record<string, (typeof CATEGORIES)[number]> = {
  social: "communication",
  chat: "communication",
  home: "home-automation",
  "home automation": "home-automation",
  network: "networking",
  backup: "files",
  cloud: "files",
  "file sync": "files",
  downloader: "media",
  ai: "productivity",
  "developer tools": "developer",
  authentication: "security",
};

const record = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};

/** A text in several languages (`{ en_US: …, zh_CN: … }`), in English where there is English. */
export function englishText(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() || undefined;
  const texts = record(value);
  const english = Object.entries(texts).find(([lang]) => /^en([_-]|$)/i.test(lang))?.[1];
  const chosen =
    typeof english === "string" && english.trim()
      ? english
      : Object.values(texts).find((t) => typeof t === "string" && t.trim());
  return typeof chosen === "string" ? chosen.trim() : undefined;
}

const httpUrl = (value: unknown): string | undefined =>
  typeof value === "string" && /^https?:\/\/[^\s]+$/i.test(value.trim()) ? value.trim() : undefined;

export function readMetadata(extensions: Record<string, unknown>): AppMetadata {
  const casa = record(extensions["x-casaos"]);
  const categoryName = typeof casa.category === "string" ? casa.category.trim().toLowerCase() : undefined;
  const category =
    categoryName === undefined
      ? undefined
      : (((CATEGORIES as readonly string[]).includes(categoryName)
          ? (categoryName as (typeof CATEGORIES)[number])
          : undefined) ??
        CATEGORY_NAMES[categoryName] ??
        "other");
  const icon = httpUrl(casa.icon);
  const scalar = (value: unknown) =>
    typeof value === "string" || typeof value === "number" ? String(value).trim() : undefined;
  return {
    title: englishText(casa.title),
    description: englishText(casa.description),
    tagline: englishText(casa.tagline),
    version: scalar(casa.version),
    category,
    icon: icon?.startsWith("https://") ? icon : undefined,
    links: {
      homepage: httpUrl(casa.website),
      source: httpUrl(casa.repo),
      docs: httpUrl(casa.docs),
      support: httpUrl(casa.support),
    },
    ui:
      casa.main !== undefined || casa.port_map !== undefined
        ? {
            service: scalar(casa.main),
            hostPort: scalar(casa.port_map),
            path: scalar(casa.index),
            scheme: scalar(casa.scheme),
          }
        : undefined,
    serviceNotes: (service) => {
      const volumes = new Map<string, string>();
      const notes = record(service["x-casaos"]);
      for (const entry of Array.isArray(notes.volumes) ? notes.volumes : []) {
        const container = scalar(record(entry).container);
        const text = englishText(record(entry).description);
        if (container && text) volumes.set(container, text);
      }
      return { volumes };
    },
  };
}
