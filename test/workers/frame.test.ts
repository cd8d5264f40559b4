/**
 * The frames the channel's object sends the Worker: a run of messages whose SSE bytes reach the
 * client as they are, read back by a real spec parser; the Worker finds ids and event boundaries
 * without decoding, including messages whose text holds line breaks and blank lines.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { encodeFrame, eventsAfter, readFrame } from "../../src/hub/durable-object/frame.ts";
import { encodeMessage, type Message } from "../../src/hub/message.ts";

const message = (id: number, text: string): Message => ({
  id,
  text,
  author: null,
  createdAt: new Date(0).toISOString(),
});
const texts = ["first\n\nwith a blank line", "second\r\n\r\n", "third: ünïcödé ✓"];
const messages = texts.map((text, i) => message(98 + i, text));

function parse(bytes: Uint8Array): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(new TextDecoder().decode(bytes));
  return events;
}

describe("a frame of messages", () => {
  const encoded = encodeFrame(messages.map(encodeMessage), 100);
  // What the socket hands the Worker: an ArrayBuffer of its own.
  const frame = readFrame(encoded.slice().buffer);

  it("carries its first and last id", () => {
    expect({ first: frame.first, last: frame.last }).toEqual({ first: 98, last: 100 });
  });

  it("holds every message's SSE event as the client parses it", () => {
    expect(parse(frame.events).map((event) => [event.id, JSON.parse(event.data)])).toEqual(
      messages.map((m) => [String(m.id), m]),
    );
  });

  it.each([
    [98, [99, 100]],
    [99, [100]],
  ])("gives the events after id %i without decoding", (cursor, ids) => {
    expect(parse(eventsAfter(frame, cursor)).map((event) => Number(event.id))).toEqual(ids);
  });
});
