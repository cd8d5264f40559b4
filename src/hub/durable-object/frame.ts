/**
 * What the channel's object sends on a subscriber's socket: a run of consecutive messages as one
 * binary frame, `[newest id: float64, little-endian][the SSE bytes of each message]`. Messages
 * published close together go out as one frame, so each subscriber costs one socket message and
 * one stream write per run, not per message: under `wrangler dev` a write to a Worker's stream
 * costs about as much as the whole fan-out (see docs/benchmarks.md), so this is what makes a
 * burst cheap. The SSE bytes are sent to the client as they are.
 */
const HEADER_BYTES = 8;
const ID_PREFIX_LENGTH = "id: ".length;
const LF = 0x0a;

/** A frame as the Worker reads it. */
export interface Frame {
  /** The id of its first message. */
  first: number;
  /** The id of its last message: ids are contiguous within a channel. */
  last: number;
  /** The messages' SSE events. */
  events: Uint8Array;
}

/** One frame of `events` (encoded messages with consecutive ids, the last being `lastId`). */
export function encodeFrame(events: readonly Uint8Array[], lastId: number): Uint8Array {
  let length = HEADER_BYTES;
  for (const event of events) length += event.byteLength;
  const frame = new Uint8Array(length);
  new DataView(frame.buffer).setFloat64(0, lastId, true);
  let offset = HEADER_BYTES;
  for (const event of events) {
    frame.set(event, offset);
    offset += event.byteLength;
  }
  return frame;
}

/**
 * Consecutive frames as one: their events in order, under the last one's id. For a receiver that
 * was busy while they were made (see shard-outbox.ts): one message and one write per subscriber
 * instead of one per frame.
 */
export function joinFrames(frames: readonly Uint8Array[]): Uint8Array {
  let length = HEADER_BYTES;
  for (const frame of frames) length += frame.byteLength - HEADER_BYTES;
  const joined = new Uint8Array(length);
  joined.set((frames.at(-1) as Uint8Array).subarray(0, HEADER_BYTES));
  let offset = HEADER_BYTES;
  for (const frame of frames) {
    joined.set(frame.subarray(HEADER_BYTES), offset);
    offset += frame.byteLength - HEADER_BYTES;
  }
  return joined;
}

export function readFrame(data: ArrayBuffer): Frame {
  const events = new Uint8Array(data, HEADER_BYTES);
  return { first: eventId(events, 0), last: new DataView(data).getFloat64(0, true), events };
}

/** The id of the frame's last message, read from its header without copying it. */
export function frameLastId(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES).getFloat64(0, true);
}

/**
 * The frame's events after `cursor` (which lies within the frame): every message event starts
 * `id: <digits>\n` (see formatChannelEvent) and contains no blank line (its data is one line of JSON),
 * so events are found by their ending LF LF without decoding anything.
 */
export function eventsAfter(frame: Frame, cursor: number): Uint8Array {
  const { events } = frame;
  let start = 0;
  for (let id = frame.first; id <= cursor; id++) {
    while (start + 1 < events.length && !(events[start] === LF && events[start + 1] === LF)) start++;
    start += 2;
  }
  return events.subarray(start);
}

/** The id of the message event that starts at `offset`. */
export function eventId(events: Uint8Array, offset: number): number {
  let id = 0;
  for (let i = offset + ID_PREFIX_LENGTH; i < events.length && events[i] !== LF; i++) {
    id = id * 10 + ((events[i] as number) - 48);
  }
  return id;
}
