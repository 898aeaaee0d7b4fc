/**
 * Regenerates the files derived from schemas: the manifest's JSON Schema and field reference, and the
 * daemon's API reference.
 */
import { writeFileSync } from "node:fs";
import { manifestJsonSchema, manifestJsonSchemaText } from "../src/manifest/json-schema.ts";
import { referenceMarkdown } from "../src/manifest/reference.ts";
import { writeApiDocs } from "./gen-api-docs.ts";

const root = new URL("..", import.meta.url).pathname;
writeFileSync(`${root}schema/manifest-v1.json`, manifestJsonSchemaText());
writeFileSync(`${root}docs/manifest-reference.md`, referenceMarkdown(manifestJsonSchema()));
writeApiDocs();
console.log("wrote schema/manifest-v1.json, docs/manifest-reference.md and docs/api.md");
