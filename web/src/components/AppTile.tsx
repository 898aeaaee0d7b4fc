/**
 * An app's tile: its icon, served by the daemon from the app's verified package (same origin: the
 * page loads no image from elsewhere), or its initials on a colour of its own (stable per app id)
 * when it has none, names an https URL (never fetched) or the daemon refuses it. Shown only through
 * <img>: an SVG's scripts never run there (docs/architecture.md, "App icons").
 */
import { useState } from "react";
import { hueOf } from "../format.ts";

export function AppTile({
  id,
  name,
  icon,
  size = "md",
}: {
  id: string;
  name: string;
  icon?: string | null | undefined;
  size?: "sm" | "md" | "lg";
}) {
  const [failed, setFailed] = useState<string | undefined>();
  if (icon && failed !== icon)
    return (
      // Decorative: the app's name is always beside it.
      <img
        className={`tile tile-${size} tile-icon`}
        src={icon}
        alt=""
        data-testid="app-icon"
        onError={() => setFailed(icon)}
      />
    );
  const words = name.split(/[\s-]+/).filter(Boolean);
  const initials = (words.length > 1 ? `${words[0]?.[0]}${words[1]?.[0]}` : name.slice(0, 2)).toUpperCase();
  return (
    <span className={`tile tile-${size} hue-${hueOf(id) % 12}`} aria-hidden="true" data-testid="app-initials">
      {initials}
    </span>
  );
}
