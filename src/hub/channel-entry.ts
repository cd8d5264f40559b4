/**
 * How a channel event is kept in the log, on every backend (a log entry of the channel's stream, see
 * channel-log.ts; on Redis also the pub/sub announcement and an idempotency key's value): one JSON
 * text, `{"id":N,"event":E,"createdAt":"T","data":D}`, built around the data the hub serialised (on
 * Redis by the publish script), never parsed to be re-encoded. It is also what a Durable Streams
 * client reads from the channel's stream (`/v1/stream/channels/<name>`, a JSON stream).
 *
 * - It starts `{"id":N,` like the seed's messages did, so the id is read without parsing (`idOf`).
 * - `data` comes last, so its text is cut out as it is: the first `,"data":` is the envelope's own,
 *   since the fields before it hold a number, a name of `[A-Za-z0-9_.:-]` (EVENT_NAME) and a date.
 * - Entries stored before channels carried any JSON are the seed's message itself,
 *   `{"id":N,"text":...,"author":...,"createdAt":...}`: read as an event of that data, no name.
 */
import type { ChannelEvent } from "./channel-event.ts";

const ENVELOPE_AFTER_ID = ',"event":';
const DATA_MEMBER = ',"data":';
// `{"id":` is 6 characters: the id's digits start there.
const ID_START = 6;

/** An event's id, from the start of its stored JSON (`{"id":N,`), without parsing the rest. */
export function idOf(json: string): number {
  return Number(json.slice(ID_START, json.indexOf(",", ID_START)));
}

/**
 * The part of the envelope between the id and the data, as the publish script puts it in:
 * `"event":E,"createdAt":"T","data":`.
 */
export function envelopeMiddle(event: string | null, createdAt: string): string {
  // Written as they are, not through JSON.stringify: a name is checked against EVENT_NAME (no quote,
  // no backslash) and the date is toISOString()'s, so neither needs escaping.
  return `"event":${event === null ? "null" : `"${event}"`},"createdAt":"${createdAt}","data":`;
}

export function decodeStored(json: string): ChannelEvent {
  const afterId = json.indexOf(",", ID_START);
  const id = Number(json.slice(ID_START, afterId));
  if (!json.startsWith(ENVELOPE_AFTER_ID, afterId)) {
    // Stored by an earlier version: the seed's message, which was its own data.
    const { createdAt } = JSON.parse(json) as { createdAt: string };
    return { id, event: null, data: json, createdAt };
  }
  const dataAt = json.indexOf(DATA_MEMBER, afterId);
  const head = JSON.parse(`${json.slice(0, dataAt)}}`) as { event: string | null; createdAt: string };
  return { id, event: head.event, data: json.slice(dataAt + DATA_MEMBER.length, -1), createdAt: head.createdAt };
}

/** The entry of `event`: `{"id":N,"event":E,"createdAt":"T","data":D}`. */
export function channelEntryOf(event: ChannelEvent): string {
  return `{"id":${event.id},${envelopeMiddle(event.event, event.createdAt)}${event.data}}`;
}
