/** An app's tile: its initials on a colour of its own (stable per app id). */
import { hueOf } from "../format.ts";

export function AppTile({ id, name, size = "md" }: { id: string; name: string; size?: "sm" | "md" | "lg" }) {
  const words = name.split(/[\s-]+/).filter(Boolean);
  const initials = (words.length > 1 ? `${words[0]?.[0]}${words[1]?.[0]}` : name.slice(0, 2)).toUpperCase();
  return (
    <span className={`tile tile-${size} hue-${hueOf(id) % 12}`} aria-hidden="true">
      {initials}
    </span>
  );
}
