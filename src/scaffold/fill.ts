/**
 * Templates are data: files under `templates/` with `{{name}}` placeholders, filled in one pass (a
 * value that itself holds `{{…}}` is written as it is). A placeholder nobody fills is an error,
 * never left in an app. Pure.
 */

export type Filled = { ok: true; text: string } | { ok: false; missing: string[] };

const PLACEHOLDER = /\{\{([a-z]+)\}\}/g;

export function fillTemplate(text: string, values: Readonly<Record<string, string>>): Filled {
  const missing = new Set<string>();
  const filled = text.replace(PLACEHOLDER, (all, name: string) => {
    const value = values[name];
    if (value === undefined) missing.add(name);
    return value ?? all;
  });
  return missing.size > 0 ? { ok: false, missing: [...missing] } : { ok: true, text: filled };
}

/** "my-app" → "My App": a display name made of an app id. */
export function titleOf(id: string): string {
  return id
    .split(/[.-]/)
    .filter((word) => word !== "")
    .map((word) => word[0]?.toUpperCase() + word.slice(1))
    .join(" ");
}

/** Up to two letters for an icon: "My App" → "MA". */
export function initialsOf(name: string): string {
  const words = name.split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
  return (
    words.length > 1 ? `${words[0]?.[0]}${words[1]?.[0]}` : (words[0] ?? "A").slice(0, 2)
  ).toUpperCase();
}
