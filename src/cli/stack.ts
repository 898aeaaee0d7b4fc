/**
 * A stack trace of the build pointed back at the TypeScript sources, when one is printed (an
 * unexpected error): each frame in a chunk of the build is looked up in that chunk's source map
 * (`<chunk>.js.map`, scripts/build.ts). Node's `--enable-source-maps` would read the map of every
 * chunk a command loads at each start (~15 ms of `archy ls`: bench/README.md); a stack is rare.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A frame's location in a JavaScript file: its URL, line and column (1-based). */
const FRAME = /(file:\/\/\/[^\s()]+?\.js):(\d+):(\d+)/g;

export function sourceStack(stack: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (file: string): SourceMap | undefined => {
    if (!maps.has(file))
      try {
        maps.set(file, new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8"))));
      } catch {
        maps.set(file, undefined); // no map (not the build's): the frame stays as it is
      }
    return maps.get(file);
  };
  return stack.replace(FRAME, (frame, url: string, line: string, column: string) => {
    const file = fileURLToPath(url);
    const origin = mapOf(file)?.findOrigin(Number(line), Number(column));
    if (!origin || !("fileName" in origin)) return frame;
    return `${resolve(dirname(file), origin.fileName)}:${origin.lineNumber}:${origin.columnNumber}`;
  });
}
