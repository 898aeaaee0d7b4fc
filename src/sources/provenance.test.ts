import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { provenanceChange } from "./provenance.ts";

describe("provenance: an update that changes who an app comes from is named", () => {
  test("invariant: a local app offered by a catalog is a switch of source, and so is the way back", () => {
    assert.equal(
      provenanceChange({ source: "local:/apps/alpha" }, { source: "catalog:official", publisher: "targets" }),
      "switch its source from local:/apps/alpha to catalog:official (signed by targets)",
    );
    assert.equal(
      provenanceChange({ source: "catalog:official", publisher: "targets" }, { source: "local:/apps/alpha" }),
      "switch its source from catalog:official to local:/apps/alpha",
    );
    assert.match(
      provenanceChange({ source: "catalog:official" }, { source: "catalog:community" }) ?? "",
      /^switch its source from catalog:official to catalog:community/,
    );
  });

  test("local manifests are all the operator's own: a new directory is not another source", () => {
    assert.equal(
      provenanceChange({ source: "local:/apps/alpha" }, { source: "local:/srv/v2/alpha" }),
      undefined,
    );
  });

  test("within a catalog, another signer is named; an app without a recorded signer records one", () => {
    assert.match(
      provenanceChange(
        { source: "catalog:official", publisher: "community (1 of key a1)" },
        { source: "catalog:official", publisher: "community (1 of key b2)" },
      ) ?? "",
      /^change who signs it in catalog:official, from community \(1 of key a1\) to community \(1 of key b2\)$/,
    );
    assert.equal(
      provenanceChange({ source: "catalog:official" }, { source: "catalog:official", publisher: "targets" }),
      undefined,
    );
  });
});
