/**
 * What a channel carries: events of any JSON value, each with the id the channel gave it and an
 * optional event name. The hub stores the data as the compact JSON text it made itself (never a
 * client's bytes), so an event is one `data:` line and nothing a publisher sends can add an SSE field.
 */
import { formatEvent } from "../sse/index.ts";

export interface ChannelEvent {
  /** Positive, strictly increasing within its channel; also the SSE event id. */
  id: number;
  /** The SSE event name (`event:`), or null for the default (`message`, `onmessage`). */
  event: string | null;
  /** The data, compact JSON text as sent in `data:`. */
  data: string;
  /** ISO-8601, UTC: when the channel stored it. */
  createdAt: string;
}

/** What `Hub.publish` is given. */
export interface Publication {
  /** Any JSON value (serialised by the hub, once). */
  data: unknown;
  /** The SSE event name (see EVENT_NAME): undefined sends the default `message` event. */
  event?: string | undefined;
  /**
   * A publication with a key the channel has seen within its idempotency TTL stores nothing: the
   * first one's event is returned, `replayed`. The first one wins, whatever the later ones carry.
   */
  idempotencyKey?: string | undefined;
  /**
   * The data is a JSON object without an `id` member, and the event's id goes in as its first
   * member (`{"id":N,...}`): a message that carries its own id, as the seed's messages do.
   */
  idInData?: boolean | undefined;
}

/** What `Hub.publish` answers: the event stored, or the first one stored under the same key. */
export interface Published {
  event: ChannelEvent;
  /** True when the idempotency key had been used: nothing was stored this time. */
  replayed: boolean;
}

/** A publication as backends store it: the data serialised, the id not yet known. */
export interface EventDraft {
  event: string | null;
  /** Compact JSON; with `idInData`, an object's text that the id is written into (see `withId`). */
  data: string;
  idInData: boolean;
}

/**
 * Event names a publisher may use: 1 to 64 letters, digits, `-`, `_`, `.` or `:`. No space or line
 * break, so the name is one `event:` field, and no quote or brace, so it sits in a JSON envelope as
 * it is (see the Redis backend).
 */
export const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Names the hub and the app send themselves; a publisher's event by one of these names would look
 * like ours to a client (`presence` counts, a `history-truncated` notice, the token's expiry, and
 * `error`, which EventSource fires for a failed connection).
 */
export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  "presence",
  "history-truncated",
  "token-expired",
  "error",
  "open",
]);

/** The publication, checked and serialised once; a programming error throws a TypeError. */
export function draftOf(publication: Publication): EventDraft {
  const { event, idInData = false } = publication;
  if (event !== undefined && (!EVENT_NAME.test(event) || RESERVED_EVENT_NAMES.has(event))) {
    throw new TypeError(
      `a channel event name must match ${EVENT_NAME} and not be one of ${[...RESERVED_EVENT_NAMES].join(", ")}, got ${JSON.stringify(event)}`,
    );
  }
  const { data } = publication;
  if (idInData && (typeof data !== "object" || data === null || Array.isArray(data) || Object.hasOwn(data, "id"))) {
    throw new TypeError("idInData needs data that is a JSON object without an `id` member");
  }
  const text = JSON.stringify(data);
  if (typeof text !== "string") throw new TypeError(`channel event data must be a JSON value, got ${typeof data}`);
  return { event: event ?? null, data: text, idInData };
}

/** The draft's data as stored under `id`: with `idInData`, `{"id":N` written in front of its members. */
export function dataWithId(draft: EventDraft, id: number): string {
  return draft.idInData ? `{"id":${id}${afterId(draft.data)}` : draft.data;
}

/** What follows `{"id":N` when the id goes first in the object `data`: `,` and its members, or `}`. */
export function afterId(data: string): string {
  return data === "{}" ? "}" : `,${data.slice(1)}`;
}

/**
 * The SSE event: `id:` first (the Workers frames find events by it, see frame.ts), then `event:`
 * when named, then the data, one line. Encoded once per event for every subscriber.
 */
export function formatChannelEvent(event: ChannelEvent): string {
  return `id: ${event.id}\n${formatEvent(event.event === null ? { data: event.data } : { event: event.event, data: event.data })}`;
}

const utf8 = new TextEncoder();

export function encodeChannelEvent(event: ChannelEvent): Uint8Array {
  return utf8.encode(formatChannelEvent(event));
}
