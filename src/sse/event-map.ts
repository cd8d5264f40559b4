/**
 * Typed events: a map from event names to the data each carries (`{ tick: { at: string } }`) types
 * what a source may send, so that a wrong name or data shape is a compile error. Data that is a
 * string goes on the wire as it is; anything else as its JSON, serialised once per event.
 */
import { encodeEvent } from "./encode.ts";

/** Any event name, any data: what a sink takes when no event map is given. */
export type AnyEvents = Record<string, unknown>;

/** The fields of one event besides its name and data (see `SseEvent`). */
interface EventFields {
  /** Becomes `lastEventId`, sent back by a reconnecting client as `Last-Event-ID`. */
  id?: string | number;
  /** Reconnection time in milliseconds. */
  retry?: number;
}

/**
 * One event of the map `Events`: `event` names it, `data` is what the map gives that name. An
 * event without a name is a `message` (`onmessage`), so it may be left out only where the map has
 * `message` (or is `AnyEvents`).
 */
export type EventOf<Events extends object> =
  | {
      [Name in keyof Events & string]: EventFields & { event: Name; data: Events[Name] };
    }[keyof Events & string]
  | ("message" extends keyof Events
      ? EventFields & { event?: undefined; data: Events["message" & keyof Events] }
      : never);

/** What an iterable source may yield: an event of the map, or a string as a message's data. */
export type ItemOf<Events extends object> = EventOf<Events> | ("message" extends keyof Events ? string : never);

/** Encodes an event of any map: string data as it is, other data as JSON. */
export function encodeEventOf(event: EventOf<AnyEvents>): Uint8Array {
  const { data } = event;
  if (typeof data === "string") return encodeEvent(event as EventOf<AnyEvents> & { data: string });
  const json = JSON.stringify(data);
  if (json === undefined) {
    throw new TypeError(`SSE data must be a string or serialisable as JSON, got ${typeof data}`);
  }
  // JSON never holds a raw CR or LF (it escapes them), so this is always one `data:` line.
  return encodeEvent({ event: event.event, id: event.id, retry: event.retry, data: json });
}

/**
 * The event name a client gets when the source fails (`addEventListener("error", ...)`: this one
 * is a `MessageEvent` with data, unlike the plain `Event` an `EventSource` fires when it loses the
 * connection).
 */
export const SOURCE_ERROR_EVENT = "error";

/**
 * An error whose `code` and `message` a source means the client to read: thrown by a source, they
 * are what the client's `error` event carries. Any other error's own message never reaches the
 * client (it may hold secrets or internals); the client reads `source_failed` instead.
 */
export class EventStreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "EventStreamError";
  }
}

/**
 * edge-sse's one error shape, `{ "error": { "code": string, "message": string } }`: the data of a
 * stream's `error` event, and the body of every HTTP error the app and the streams routes answer.
 */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The data of the `error` event. */
export type SourceErrorData = ErrorBody;

/** The data of the client's `error` event: the error's own code and message only for an `EventStreamError`. */
export function sourceErrorData(error: unknown): SourceErrorData {
  if (error instanceof EventStreamError) return errorBody(error.code, error.message);
  return errorBody("source_failed", "the event source failed");
}

/** The `error` event a client gets when its source fails, encoded. */
export function encodeSourceError(error: unknown): Uint8Array {
  return encodeEventOf({ event: SOURCE_ERROR_EVENT, data: sourceErrorData(error) });
}
