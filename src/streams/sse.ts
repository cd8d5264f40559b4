/**
 * `live=sse` (PROTOCOL.md §5.8): what is there from the offset on, then each append as it comes,
 * every `event: data` followed by an `event: control` with the offset to resume from. Text and
 * JSON streams send their text, others base64 (`Stream-SSE-Data-Encoding: base64`). A closed
 * stream's last control event says `streamClosed` and the response ends; any other ends after
 * `SSE_MAX_AGE_MS`, so that CDNs can collapse new readers onto fresh requests (§10.2).
 *
 * Built on edge-sse's own `eventStream`: the same encoder (no field injection), keep-alives,
 * backpressure (the reader is pulled as fast as the client reads) and caps as every channel's stream.
 */
import type { StreamLog } from "../hub/log.ts";
import { isJsonStream, mediaTypeOf, type ReadPosition, type StreamRecord } from "../hub/stream-rules.ts";
import { concatBytes } from "../sse/encode.ts";
import { type EventSink, type EventStreamOptions, encodeEvent, eventStream, type SseEvent } from "../sse/index.ts";
import { base64Of, bodyOf } from "./body.ts";
import { followOn, StreamChanges } from "./changes.ts";
import { nextCursor } from "./cursor.ts";
import { formatOffset } from "./offset.ts";

export const SSE_MAX_AGE_MS = 60_000;

const utf8Decoder = new TextDecoder();

/** How a stream's bytes travel in `data:` lines: text as it is, anything else as base64. */
export function sseEncodingOf(contentType: string): "text" | "base64" {
  const type = mediaTypeOf(contentType);
  return type.startsWith("text/") || type === "application/json" ? "text" : "base64";
}

export interface SseRead {
  log: StreamLog;
  name: string;
  record: StreamRecord;
  from: ReadPosition;
  cursor: string | undefined;
  maxReadBytes: number;
  maxAgeMs: number;
  stream: EventStreamOptions;
}

export function sseResponse(read: SseRead): Response {
  const encoding = sseEncodingOf(read.record.contentType);
  const headers = new Headers(read.stream.headers);
  headers.set("content-type", "text/event-stream");
  if (encoding === "base64") headers.set("stream-sse-data-encoding", "base64");
  return eventStream(
    async (sink) => {
      await follow(read, encoding, sink);
      sink.close();
    },
    { ...read.stream, headers },
  );
}

/**
 * Writes what the stream has from the offset on, then each append as it comes, until the stream
 * is closed, the response is too old, or the client leaves. A data event and the control event
 * after it go out as one write: a reader never has data without the offset that follows it, and
 * on workerd, where each write reaches the client as a chunk of its own, a reader that stops at
 * the first control event it sees does not stop between the two.
 */
async function follow(read: SseRead, encoding: "text" | "base64", sink: EventSink): Promise<void> {
  const { log, name } = read;
  const json = isJsonStream(read.record.contentType);
  let position = read.from;
  let cursor = read.cursor;
  let announced = false; // whether the client has had a control event since its last data
  const deadline = Date.now() + read.maxAgeMs;
  // Watch before reading: an append between a read and the wait still wakes us.
  const changes = new StreamChanges(log, name);
  try {
    let result = await log.read(name, position, read.maxReadBytes);
    while (!sink.closed) {
      if (result.kind !== "found") return; // deleted, expired or trimmed while followed: the stream ends
      const { record, entries, next } = result;
      const atTail = next === record.tail;
      const closed = record.closed && atTail;
      const events: SseEvent[] = [];
      if (entries.length > 0) {
        const bytes = concatBytes(entries);
        const data = json ? bodyOf(entries, record.contentType) : bytes;
        events.push({ event: "data", data: encoding === "base64" ? base64Of(data) : utf8Decoder.decode(data) });
        announced = false;
      }
      position = next;
      if (!announced || closed) {
        cursor = nextCursor(cursor);
        events.push({ event: "control", data: JSON.stringify(control(next, cursor, atTail, closed)) });
        announced = true;
      }
      if (events.length > 0 && !(await writeWhenRead(sink, concatBytes(events.map(encodeEvent))))) return;
      if (closed) return;
      if (atTail) {
        const changed = await changes.next(deadline, sink.signal);
        if (changed === undefined) return; // too old, or the client left
        // Appends told with their entries, from where this reader is: no need to ask the log (on
        // Workers that saves each reader an object request per append).
        const told = followOn(changed, position);
        if (told !== undefined) {
          result = told;
          continue;
        }
      }
      result = await log.read(name, position, read.maxReadBytes);
    }
  } finally {
    changes.stop();
  }
}

/**
 * Writes `chunk` once it fits in what the client may leave unread, waiting for one read if it does
 * not (as edge-sse's iterable sources do): a chunk bigger than the whole limit then drops the client
 * as too slow, and it resumes from its last offset.
 */
async function writeWhenRead(sink: EventSink, chunk: Uint8Array): Promise<boolean> {
  if (!sink.fits(chunk)) {
    let wake = () => {};
    await new Promise<void>((resolve) => {
      wake = resolve;
      sink.onPull = wake;
      sink.signal.addEventListener("abort", wake);
    });
    sink.onPull = undefined;
    sink.signal.removeEventListener("abort", wake);
  }
  return sink.write(chunk);
}

function control(next: number, cursor: string, upToDate: boolean, closed: boolean) {
  // The cursor only tells a client how to come back; a closed stream has nothing to come back for.
  if (closed) return { streamNextOffset: formatOffset(next), streamClosed: true, upToDate: true };
  return { streamNextOffset: formatOffset(next), streamCursor: cursor, ...(upToDate ? { upToDate: true } : {}) };
}
