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
import { isJsonStream, mediaTypeOf, type StreamRecord } from "../hub/stream-rules.ts";
import { type EventSink, type EventStreamOptions, eventStream, type SseEvent } from "../sse/index.ts";
import { base64Of, bodyOf, concat } from "./body.ts";
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
  from: number | "tail";
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
  return eventStream((sink) => follow(read, encoding, sink), { ...read.stream, headers });
}

async function* follow(read: SseRead, encoding: "text" | "base64", sink: EventSink): AsyncGenerator<SseEvent> {
  const { log, name } = read;
  const json = isJsonStream(read.record.contentType);
  let position = read.from;
  let cursor = read.cursor;
  let announced = false; // whether the client has had a control event since its last data
  const deadline = Date.now() + read.maxAgeMs;
  while (!sink.closed) {
    // Watch before reading: an append between the read and the wait still wakes us.
    const change = changeOf(log, name, sink.signal, deadline);
    try {
      const result = await log.read(name, position, read.maxReadBytes);
      if (result.kind !== "found") return; // deleted, expired or trimmed while followed: the stream ends
      const { record, entries, next } = result;
      const atTail = next === record.tail;
      const closed = record.closed && atTail;
      if (entries.length > 0) {
        const bytes = concat(entries);
        const data = json ? bodyOf(entries, record.contentType) : bytes;
        yield { event: "data", data: encoding === "base64" ? base64Of(data) : utf8Decoder.decode(data) };
        announced = false;
      }
      position = next;
      if (!announced || closed) {
        cursor = nextCursor(cursor);
        yield { event: "control", data: JSON.stringify(control(next, cursor, atTail, closed)) };
        announced = true;
      }
      if (closed) return;
      if (!atTail) continue;
      if (!(await change.happened)) return; // too old, or the client left
    } finally {
      change.stop();
    }
  }
}

function control(next: number, cursor: string, upToDate: boolean, closed: boolean) {
  // The cursor only tells a client how to come back; a closed stream has nothing to come back for.
  if (closed) return { streamNextOffset: formatOffset(next), streamClosed: true, upToDate: true };
  return { streamNextOffset: formatOffset(next), streamCursor: cursor, ...(upToDate ? { upToDate: true } : {}) };
}

/** Resolves true when the stream changes; false when the deadline passes or `signal` aborts. */
function changeOf(log: StreamLog, name: string, signal: AbortSignal, deadline: number) {
  let settle: (changed: boolean) => void = () => {};
  const happened = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const unwatch = log.watch(name, () => settle(true));
  const timer = setTimeout(() => settle(false), Math.max(0, deadline - Date.now()));
  const onAbort = () => settle(false);
  signal.addEventListener("abort", onAbort);
  return {
    happened,
    stop() {
      unwatch();
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}
