/**
 * The catalog sources the operator added through the API (beside the configuration file's): kept in
 * `<state dir>/_added-sources.json` with each pinned root in `<state dir>/_added-roots/<name>.json`,
 * both written atomically (a source's own directory is `<state dir>/<name>`, and no name starts
 * with `_`), so that they survive a restart exactly as added. A file that does not
 * parse is an error naming it, never an empty list (that would drop the operator's sources silently).
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../files.ts";
import type { SourceConfig } from "./source.ts";

const AddedFile = z.array(z.strictObject({ name: z.string(), url: z.string() }));

const listFile = (stateDir: string) => join(stateDir, "_added-sources.json");
export const addedRootFile = (stateDir: string, name: string) =>
  join(stateDir, "_added-roots", `${name}.json`);

export async function readAddedSources(stateDir: string): Promise<SourceConfig[]> {
  const text = await readFile(listFile(stateDir), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "[]";
    throw error;
  });
  const parsed = AddedFile.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(
      `${listFile(stateDir)} is not a list of catalog sources (${parsed.error.issues[0]?.message}): restore it from a backup or remove it and add the sources again`,
    );
  return parsed.data.map(({ name, url }) => ({ name, url, root: addedRootFile(stateDir, name) }));
}

export async function writeAddedSources(stateDir: string, sources: SourceConfig[]): Promise<void> {
  await writeFileAtomic(
    listFile(stateDir),
    `${JSON.stringify(
      sources.map(({ name, url }) => ({ name, url })),
      null,
      2,
    )}\n`,
  );
}

export async function forgetAddedRoot(stateDir: string, name: string): Promise<void> {
  await rm(addedRootFile(stateDir, name), { force: true });
}
