/**
 * Port-per-interface mode's record: an interface keeps its port while the record holds it, new ones
 * take the lowest free port, a full range reuses only the ports of interfaces no longer installed.
 * Pure (the listeners are test/proxy/ports.test.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { assignPorts, portsInUse } from "./interface-ports.ts";

const range = { first: 7800, last: 7802 };

describe("interface ports", () => {
  test("new interfaces take the lowest free ports; recorded ones keep theirs whatever comes before them", () => {
    const first = assignPorts({}, ["b/ui"], range);
    assert.deepEqual(first.book, { "b/ui": 7800 });
    const second = assignPorts(first.book, ["a/ui", "b/ui", "c/ui"], range);
    assert.deepEqual(second.book, { "b/ui": 7800, "a/ui": 7801, "c/ui": 7802 });
    assert.deepEqual(second.unplaced, []);
  });

  test("a removed interface keeps its port in the record: reinstalled, it gets it back", () => {
    const book = { "a/ui": 7800, "b/ui": 7801 };
    const without = assignPorts(book, ["b/ui"], range);
    assert.deepEqual(without.book, book);
    assert.deepEqual([...portsInUse(without.book, ["b/ui"])], [[7801, "b/ui"]]);
    assert.equal(
      assignPorts(assignPorts(without.book, ["b/ui", "c/ui"], range).book, ["a/ui"], range).book["a/ui"],
      7800,
    );
  });

  test("a full range gives a port of an interface no longer installed, never one in use", () => {
    const book = { "a/ui": 7800, "b/ui": 7801, "c/ui": 7802 };
    const next = assignPorts(book, ["b/ui", "c/ui", "d/ui"], range);
    assert.equal(next.book["d/ui"], 7800);
    assert.equal(next.book["a/ui"], undefined);
    const full = assignPorts(book, ["a/ui", "b/ui", "c/ui", "d/ui"], range);
    assert.deepEqual(full.unplaced, ["d/ui"]);
    assert.deepEqual(full.book, book);
  });

  test("records outside the range (the range changed) or not ports are dropped", () => {
    const next = assignPorts(
      { "a/ui": 9000, "b/ui": 7801.5 } as Record<string, number>,
      ["a/ui", "b/ui"],
      range,
    );
    assert.deepEqual(next.book, { "a/ui": 7800, "b/ui": 7801 });
  });

  test("installed interfaces never share a port, and never leave the range (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom("a/ui", "b/ui", "c/ui", "d/ui", "e/x"), { maxLength: 5 }), {
          maxLength: 8,
        }),
        (rounds) => {
          let book = {};
          for (const wanted of rounds) {
            const next = assignPorts(book, wanted, range);
            const used = portsInUse(next.book, wanted);
            assert.equal(used.size + next.unplaced.length, new Set(wanted).size);
            for (const port of used.keys()) assert.ok(port >= range.first && port <= range.last);
            // What was installed before and still is keeps its port.
            for (const key of wanted) {
              const before = (book as Record<string, number>)[key];
              if (before !== undefined) assert.equal(next.book[key], before, key);
            }
            book = next.book;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
