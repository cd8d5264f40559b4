/**
 * The encoder checked by a real spec parser (eventsource-parser), never by our own decoder:
 * whatever we encode must come back out of it exactly, whatever the chunking.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeComment, encodeEvent, encodeRetry, type SseEvent } from "../../src/sse/index.ts";

interface Parsed {
  events: EventSourceMessage[];
  comments: string[];
  retries: number[];
}

/** Feeds bytes to the parser, split at the given byte offsets, through a streaming UTF-8 decoder. */
function parse(bytes: Uint8Array, cuts: number[] = []): Parsed {
  const parsed: Parsed = { events: [], comments: [], retries: [] };
  const parser = createParser({
    onEvent: (event) => parsed.events.push(event),
    onComment: (comment) => parsed.comments.push(comment),
    onRetry: (retry) => parsed.retries.push(retry),
    onError: (error) => {
      throw error;
    },
  });
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    parser.feed(decoder.decode(bytes.subarray(start, cut), { stream: true }));
    start = cut;
  }
  parser.feed(decoder.decode(bytes.subarray(start)));
  return parsed;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * What the parser should report for an event we sent. The format joins data lines with LF, so a
 * CR or CRLF in the data arrives as LF: every line and every line break survives, the kind of
 * break cannot.
 */
function expected(event: SseEvent): EventSourceMessage {
  return {
    data: asReceived(event.data),
    event: event.event,
    id: event.id === undefined ? undefined : String(event.id),
  };
}

function asReceived(data: string): string {
  return data.replace(/\r\n|\r/g, "\n");
}

// Any Unicode scalar value, with line breaks, colons, spaces and NUL made common.
const tricky = fc.constantFrom("\r", "\n", "\r\n", "\n\r", ":", " ", "\0", "\uFEFF", "data: x", "id: 7");
const anyText = fc.string({ unit: fc.oneof(tricky, fc.string({ unit: "binary", minLength: 1, maxLength: 1 })) });
const fieldText = (forbidden: RegExp) =>
  fc.string({ unit: "binary", minLength: 1, maxLength: 20 }).filter((text) => !forbidden.test(text));
const anEvent: fc.Arbitrary<SseEvent> = fc.record(
  {
    data: anyText,
    event: fieldText(/[\r\n]/),
    id: fc.oneof(fieldText(/[\r\n\0]/), fc.nat()),
  },
  { requiredKeys: ["data"] },
);

describe("encodeEvent", () => {
  it.each([
    ["an empty string", ""],
    ["LF-separated lines", "a\nb"],
    ["CRLF-separated lines", "a\r\nb"],
    ["a lone CR", "a\rb"],
    ["only line breaks", "\n\r\n\r"],
    ["empty lines in the middle", "a\n\n\nb"],
    ["a trailing line break", "last\n"],
    ["a leading space", "  two spaces"],
    ["field-like text", "x\nevent: evil\nid: 99\nretry: 1\n\ndata: injected"],
    ["a NUL and a BOM", "\0\uFEFFbom"],
    ["astral characters", "emoji 🎉 and 𝄞"],
  ])("round-trips data with %s", (_name, data) => {
    const { events } = parse(encodeEvent({ data }));
    expect(events).toEqual([{ data: asReceived(data), event: undefined, id: undefined }]);
  });

  it("round-trips the event type and id, and turns a numeric id into its decimal text", () => {
    const { events } = parse(encodeEvent({ event: "update", id: 42, data: "{}" }));
    expect(events).toEqual([{ data: "{}", event: "update", id: "42" }]);
  });

  it("round-trips any sequence of events, whatever the chunk boundaries", () => {
    fc.assert(
      fc.property(fc.array(anEvent, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (events, cuts) => {
        const bytes = concat(events.map(encodeEvent));
        const parsed = parse(
          bytes,
          cuts.map((cut) => cut % (bytes.byteLength + 1)),
        );
        expect(parsed.events).toEqual(events.map(expected));
      }),
      { numRuns: 500 },
    );
  });

  it("sends retry as a field the parser reports", () => {
    const parsed = parse(encodeEvent({ data: "x", retry: 2500 }));
    expect(parsed.retries).toEqual([2500]);
    expect(parsed.events).toEqual([{ data: "x", event: undefined, id: undefined }]);
  });

  it.each([
    ["an event type with LF", { data: "x", event: "a\nid: 1" }],
    ["an event type with CR", { data: "x", event: "a\rb" }],
    ["an id with LF", { data: "x", id: "1\ndata: evil" }],
    ["an id with CRLF", { data: "x", id: "1\r\n" }],
    ["an id with NUL", { data: "x", id: "1\u0000" }],
    ["a negative retry", { data: "x", retry: -1 }],
    ["a fractional retry", { data: "x", retry: 1.5 }],
    ["a NaN retry", { data: "x", retry: Number.NaN }],
    ["data that is not a string", { data: { a: 1 } as unknown as string }],
  ])("rejects %s with a TypeError instead of emitting it", (_name, event) => {
    expect(() => encodeEvent(event as SseEvent)).toThrow(TypeError);
  });

  it("rejects any event type or id that would break out of its line", () => {
    const withBreak = fc
      .tuple(fc.string(), fc.constantFrom("\r", "\n", "\r\n"), fc.string())
      .map(([before, lineBreak, after]) => before + lineBreak + after);
    fc.assert(
      fc.property(withBreak, (text) => {
        expect(() => encodeEvent({ data: "x", event: text })).toThrow(TypeError);
        expect(() => encodeEvent({ data: "x", id: text })).toThrow(TypeError);
      }),
    );
  });
});

describe("encodeComment and encodeRetry", () => {
  it("writes comments that dispatch no event, one per line of text", () => {
    const parsed = parse(concat([encodeComment(), encodeComment("keep-alive"), encodeComment("a\nb\r\nc")]));
    expect(parsed.events).toEqual([]);
    expect(parsed.comments).toEqual(["", "keep-alive", "a", "b", "c"]);
  });

  it("writes a lone retry field that dispatches no event", () => {
    const parsed = parse(encodeRetry(3000));
    expect(parsed.retries).toEqual([3000]);
    expect(parsed.events).toEqual([]);
  });
});
