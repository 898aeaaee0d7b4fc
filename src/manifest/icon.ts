/**
 * What the platform takes as an app's icon (docs/architecture.md, "App icons"): a file of the app's
 * package, a PNG, JPEG, WebP or SVG image by its content, at most ICON_MAX_BYTES. An https URL is
 * allowed in a manifest but never fetched by the node: `archy app validate` warns. Pure.
 */
import type { Finding } from "./issues.ts";
import type { Manifest } from "./schema.ts";

/** The largest icon served: an app's icon is shown at most 96 px wide. */
export const ICON_MAX_BYTES = 256 * 1024;

export type IconType = "image/png" | "image/jpeg" | "image/webp" | "image/svg+xml";

/** What an SVG document may start with before its root element: a BOM, an XML declaration, comments, a doctype. */
const SVG_START =
  /^\uFEFF?\s*(?:<\?xml\s[^>]*\?>\s*)?(?:<!--(?:(?!-->)[\s\S])*-->\s*)*(?:<!DOCTYPE\s+svg\b[^>]*>\s*)?(?:<!--(?:(?!-->)[\s\S])*-->\s*)*<svg[\s/>]/i;

/**
 * The image type of an icon's bytes, from their content alone (an allow-list: PNG, JPEG, WebP by
 * their signatures; SVG as UTF-8 text whose root element is `<svg>`); undefined for anything else.
 */
export function iconType(bytes: Buffer): IconType | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "image/png";
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (
    bytes.subarray(0, 4).toString("latin1") === "RIFF" &&
    bytes.subarray(8, 12).toString("latin1") === "WEBP"
  )
    return "image/webp";
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  return SVG_START.test(text) ? "image/svg+xml" : undefined;
}

/** A manifest's icon when it is a file of its package (not an https URL, which is never fetched). */
export function iconFile(manifest: Pick<Manifest, "icon">): string | undefined {
  return manifest.icon !== undefined && !/^https:\/\//.test(manifest.icon) ? manifest.icon : undefined;
}

/** Warnings (the manifest is valid): an icon the node will not show. */
export function iconWarnings(manifest: Pick<Manifest, "icon">): Finding[] {
  if (manifest.icon === undefined || iconFile(manifest) !== undefined) return [];
  return [
    {
      path: ["icon"],
      message: `icon ${manifest.icon} is a URL: the node never fetches it (it would make the node send requests where a manifest says, tell that server when the operator looks, and fail offline), so the web UI shows the app's initials`,
      fix: "put the icon in the app directory (a PNG, JPEG, WebP or SVG of at most 256 KiB) and name it, e.g. icon: icon.svg",
      rule: "icon.remote-url",
    },
  ];
}
