/** Words and numbers as the UI shows them. Pure. */
import type { Result } from "./api.ts";

export type AppView = Result<"package.get">;
export type Phase = AppView["phase"];

/** The tone of a phase: what colour its badge takes. */
export function phaseTone(phase: Phase): "good" | "idle" | "busy" | "warn" | "bad" {
  switch (phase) {
    case "running":
      return "good";
    case "stopped":
      return "idle";
    case "failed":
      return "bad";
    case "waiting":
    case "retrying":
    case "rolling-back":
      return "warn";
    default:
      return "busy";
  }
}

/** "just now", "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Where an app comes from, and how far to trust it, in words. */
export function sourceLabel(source: string): {
  label: string;
  trust: "signed" | "local" | "market" | "other";
} {
  if (source.startsWith("catalog:")) return { label: `Signed catalog “${source.slice(8)}”`, trust: "signed" };
  if (source.startsWith("local:")) return { label: "Local apps folder", trust: "local" };
  if (source.startsWith("nostr:"))
    return { label: `Marketplace: ${shortKey(source.slice(6))}`, trust: "market" };
  return { label: source, trust: "other" };
}

/** An npub as people read it: its start and its end (the whole key is in the element's title). */
export const shortKey = (npub: string) =>
  npub.length > 20 ? `${npub.slice(0, 12)}…${npub.slice(-6)}` : npub;

type TrustLevel = NonNullable<Result<"package.available">[number]["trust"]>["level"];

/** The tone of a marketplace publisher's trust level: what colour its chip takes. */
export function trustTone(level: TrustLevel): "good" | "idle" | "warn" | "bad" {
  switch (level) {
    case "yours":
    case "trusted":
      return "good";
    case "known":
      return "idle";
    case "unknown":
      return "warn";
    case "reported":
    case "muted":
      return "bad";
  }
}

const CATEGORY_NAMES: Record<string, string> = {
  "home-automation": "Home automation",
};

export const categoryName = (category: string) =>
  CATEGORY_NAMES[category] ?? category.charAt(0).toUpperCase() + category.slice(1);

/** A stable number for an app (its monogram tile's colour). */
export function hueOf(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}
