/**
 * Writes `docs/api.md` from the API's definitions (src/api/docs.ts). `npm run generate` runs it with
 * the other generators; `test/api/docs.test.ts` fails when the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import { apiDocsMarkdown } from "../src/api/docs.ts";

export const API_DOCS_PATH = new URL("../docs/api.md", import.meta.url).pathname;

export function writeApiDocs(): void {
  writeFileSync(API_DOCS_PATH, apiDocsMarkdown());
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  writeApiDocs();
  console.log("wrote docs/api.md");
}
