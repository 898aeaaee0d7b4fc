/**
 * Splits a compose `command:`/`entrypoint:` written as one string into its words, as Compose does
 * (POSIX shell quoting, no expansion): blanks separate words, '…' is literal, "…" takes \" \\ \$
 * and \` escapes, a backslash outside quotes escapes the next character. Nothing runs a shell: the
 * words are the program and its arguments. Pure.
 */

export type SplitWords = { ok: true; words: string[] } | { ok: false; error: string };

const IN_DOUBLE_QUOTES = new Set(['"', "\\", "$", "`", "\n"]);

export function splitShellWords(text: string): SplitWords {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "\\") {
      i++;
      if (i < text.length && text[i] !== "\n") word += text[i];
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { ok: false, error: `the ' at character ${i + 1} is never closed` };
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && IN_DOUBLE_QUOTES.has(text[j + 1] ?? "")) j++;
        word += text[j];
      }
      if (j >= text.length) return { ok: false, error: `the " at character ${i + 1} is never closed` };
      i = j;
    } else word += c;
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}
