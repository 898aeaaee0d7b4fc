/** Regenerates the files derived from the manifest schema: the JSON Schema and the field reference. */
import { writeFileSync } from "node:fs";
import { manifestJsonSchema, manifestJsonSchemaText } from "../src/manifest/json-schema.ts";
import { referenceMarkdown } from "../src/manifest/reference.ts";

const root = new URL("..", import.meta.url).pathname;
writeFileSync(`${root}schema/manifest-v1.json`, manifestJsonSchemaText());
writeFileSync(`${root}docs/manifest-reference.md`, referenceMarkdown(manifestJsonSchema()));
console.log("wrote schema/manifest-v1.json and docs/manifest-reference.md");
