/**
 * The request body's JSON, bounded before it is parsed. A body within the size limit can still be
 * costly to parse: 450,000 nested arrays (900 KB) took 0.7 s and 250 MB per request. One linear scan
 * of the raw text counts the nesting of arrays and objects outside strings and refuses a body that
 * goes deeper than any request needs, so the parser never sees it.
 */

/** A batch of requests with params holding lists of objects is 5 levels deep; 16 leaves room. */
export const MAX_JSON_DEPTH = 16;

/** Refused before parsing: nested deeper than `MAX_JSON_DEPTH`. */
export class JsonTooDeep extends Error {
  readonly statusCode = 400;
  readonly code = "ARCHY_JSON_TOO_DEEP";
  constructor() {
    super(`request nested too deeply: at most ${MAX_JSON_DEPTH} levels of arrays and objects`);
    this.name = "JsonTooDeep";
  }
}

/**
 * Whether the text's arrays and objects nest deeper than `limit`. Exact for valid JSON; for invalid
 * JSON it may count differently, and the parser refuses that text anyway after as little work.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

type Done = (error: Error | null, body?: unknown) => void;
type Parse = (request: unknown, body: string, done: Done) => void;

/** Wraps a string body parser (Fastify's JSON one) so that a body nested too deeply never reaches it. */
export function depthBounded(parse: Parse): Parse {
  return (request, body, done) => {
    if (nestsDeeperThan(body, MAX_JSON_DEPTH)) done(new JsonTooDeep());
    else parse(request, body, done);
  };
}
