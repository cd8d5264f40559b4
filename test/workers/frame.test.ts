/**
 * The frames the channel's object sends the Worker: a run of events whose SSE bytes reach the
 * client as they are, read back by a real spec parser; the Worker finds ids and event boundaries
 * without decoding, including data whose strings hold line breaks and blank lines, and named events.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { type ChannelEvent, encodeChannelEvent } from "../../src/hub/channel-event.ts";
import { encodeFrame, eventsAfter, frameLastId, joinFrames, readFrame } from "../../src/hub/durable-object/frame.ts";

const createdAt = new Date(0).toISOString();
const values = [
  { id: 98, text: "first\n\nwith a blank line", author: null, createdAt },
  ["second\r\n\r\n", 2],
  "third: ünïcödé ✓",
];
const events: ChannelEvent[] = values.map((value, i) => ({
  id: 98 + i,
  event: i === 1 ? "update:v1" : null,
  data: JSON.stringify(value),
  createdAt,
}));

function parse(bytes: Uint8Array): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(new TextDecoder().decode(bytes));
  return events;
}

describe("a frame of channel events", () => {
  const encoded = encodeFrame(events.map(encodeChannelEvent), 100);
  // What the socket hands the Worker: an ArrayBuffer of its own.
  const frame = readFrame(encoded.slice().buffer);

  it("carries its first and last id", () => {
    expect({ first: frame.first, last: frame.last }).toEqual({ first: 98, last: 100 });
  });

  it("gives a shard its last id as delivered, also from a view into a larger buffer", () => {
    expect(frameLastId(encoded)).toBe(100);
    const larger = new Uint8Array(encoded.byteLength + 5);
    larger.set(encoded, 5);
    expect(frameLastId(larger.subarray(5))).toBe(100);
  });

  it("holds every event's SSE event as the client parses it, named or not", () => {
    expect(parse(frame.events).map((event) => [event.id, event.event, JSON.parse(event.data)])).toEqual(
      events.map((e, i) => [String(e.id), e.event ?? undefined, values[i]]),
    );
  });

  it.each([
    [98, [99, 100]],
    [99, [100]],
  ])("gives the events after id %i without decoding", (cursor, ids) => {
    expect(parse(eventsAfter(frame, cursor)).map((event) => Number(event.id))).toEqual(ids);
  });
});

describe("frames joined", () => {
  const encoded = events.map(encodeChannelEvent);
  const joined = joinFrames([encodeFrame(encoded.slice(0, 1), 98), encodeFrame(encoded.slice(1), 100)]);
  const frame = readFrame(joined.slice().buffer);

  it("are one frame of every event in order, under the last one's id", () => {
    expect({ first: frame.first, last: frame.last }).toEqual({ first: 98, last: 100 });
    expect(parse(frame.events).map((event) => Number(event.id))).toEqual([98, 99, 100]);
    expect(joined).toEqual(encodeFrame(encoded, 100));
  });
});
