/**
 * What a JSON stream stores of an append (PROTOCOL.md §9): each message as compact JSON, an array
 * flattened one level, whatever spacing or byte order mark the body came with.
 */
import { describe, expect, it } from "vitest";
import { entriesOf } from "../../src/streams/body.ts";

const utf8 = new TextEncoder();
const stored = (body: Uint8Array | string, create = false) =>
  entriesOf(typeof body === "string" ? utf8.encode(body) : body, "application/json", create).map((entry) =>
    // ignoreBOM: a stored byte order mark would show.
    new TextDecoder("utf-8", { ignoreBOM: true }).decode(entry),
  );

describe("a JSON append's entries", () => {
  it("keeps one value compact, whether it came compact or spaced", () => {
    expect(stored('{"a":1,"b":"x y"}')).toEqual(['{"a":1,"b":"x y"}']);
    expect(stored('{ "a" : 1,\n "b" : "x y" }\n')).toEqual(['{"a":1,"b":"x y"}']);
    expect(stored('"caf\u00e9"')).toEqual(['"caf\u00e9"']);
  });

  it("leaves out a byte order mark", () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8.encode('{"a":1}')]);
    expect(stored(body)).toEqual(['{"a":1}']);
  });

  it("flattens an array one level into compact messages joined by commas", () => {
    expect(stored('[1, {"b": [2, 3]}, "c"]')).toEqual(['1,{"b":[2,3]},"c"']);
    expect(stored("[]", true)).toEqual([]);
    expect(() => stored("[]")).toThrow(/empty JSON array/);
  });

  it("refuses a body that is not JSON, or not UTF-8", () => {
    expect(() => stored("{")).toThrow(/not valid JSON/);
    expect(() => stored(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(/not valid JSON/);
  });
});
