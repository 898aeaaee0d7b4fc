/** File system errors told in words, for messages to people (never a bare `EACCES`). */

const WORDS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  ELOOP: "too many levels of symbolic links",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "it already exists",
  ENAMETOOLONG: "the path is too long",
};

/** What a failed file system call means, in words, and the path it failed on unless it is `about`. */
export function fileProblem(error: unknown, about?: string): string {
  const { code, path, message } = error as NodeJS.ErrnoException;
  const said = code ? WORDS[code] : undefined;
  return said ? `${said}${path && path !== about ? ` (${path})` : ""}` : message;
}
