/**
 * Files only their owner may read (private keys): created 0600 and never replaced, and refused
 * when others can read them, with the fix in the message.
 */
import { readFile, stat, writeFile } from "node:fs/promises";

/** A private file cannot be used as it is; the message names it and the fix. */
export class PrivateFileError extends Error {
  override name = "PrivateFileError";
}

/** Creates `file` with mode 0600; fails if it exists (a key is never overwritten). */
export async function createPrivateFile(file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new PrivateFileError(
        `${file} exists already: a key file is never overwritten; move it away first`,
      );
    throw error;
  }
}

/** The text of a private file, refused when it is missing or others can read it. */
export async function readPrivateFile(file: string): Promise<string> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    throw new PrivateFileError(`key file ${file} does not exist`);
  }
  if ((info.mode & 0o077) !== 0)
    throw new PrivateFileError(
      `key file ${file} can be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 ${file}`,
    );
  return readFile(file, "utf8");
}
