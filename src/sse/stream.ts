/**
 * An SSE `Response` whose body is a web `ReadableStream`, and the one place that decides when a
 * stream ends. See docs/architecture.md ("Stream lifecycle") and ../shared/FINDINGS.md for the
 * measurements behind each trigger.
 */
import { encodeComment, encodeEvent, encodeRetry, type SseEvent } from "./encode.ts";

/** Why a stream ended, for stats and logs. */
export type CloseReason =
  | "client-cancel" // the body's reader was cancelled: the client left (Node, Bun, Deno)
  | "request-abort" // request.signal aborted: the client left (workerd needs this one)
  | "write-failed" // enqueue threw: the stream is already gone
  | "overflow" // the client reads too slowly and its buffer is full
  | "stalled" // the client read nothing for two keep-alive periods while data waited for it
  | "source-ended" // the event source closed the stream itself
  | "source-error"; // the event source threw

/** What an event source gets to write to one client. */
export interface EventSink {
  /** Encodes and sends one event. Returns false once the stream has ended. */
  send(event: SseEvent): boolean;
  /** Sends bytes that are already a whole encoded event (encode once, write to many). */
  write(chunk: Uint8Array): boolean;
  /**
   * Whether `chunk` fits in what this client may still leave unread. Writing a chunk that does not
   * fit drops the client as too slow; a source that can wait (a replay) checks first and resumes
   * in `onPull`.
   */
  fits(chunk: Uint8Array): boolean;
  /** Called when the client has read enough for more to fit. */
  onPull: (() => void) | undefined;
  /** Sends a comment line, which clients ignore. */
  comment(text?: string): boolean;
  /** Ends the stream; the client will reconnect unless it is closed on its side. */
  close(): void;
  readonly closed: boolean;
  /** Aborted when the stream ends, for whatever reason: handy for async loops. */
  readonly signal: AbortSignal;
}

/**
 * Starts producing events for one client. It may return a stop function, which runs exactly once
 * when the stream ends for any reason.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a source with no cleanup simply returns nothing.
export type EventSource = (sink: EventSink) => void | Stop | Promise<void | Stop>;
type Stop = () => void;

export interface EventStreamOptions {
  /**
   * The request's signal. On workerd it is the only notice that the client left (cancel is never
   * called there, and only with the `enable_request_signal` flag does the signal fire).
   */
  signal?: AbortSignal;
  /** Sent first as `retry:` (ms), so the client knows how soon to come back. */
  retry?: number;
  /**
   * A comment is written this often (ms) to keep proxies and idle timeouts (Bun: 10 s) from
   * closing a quiet stream; on workerd a dead stream is only noticed when it next writes, so this
   * also bounds how long one lingers. A client that reads nothing for two of these periods while
   * data waits for it is dropped as stalled. 0 turns both off.
   */
  keepAliveMs?: number;
  /** Bytes a client may leave unread before it is dropped as too slow (it can resume later). */
  maxBufferedBytes?: number;
  /** Events (writes) a client may leave unread before it is dropped as too slow. */
  maxBufferedEvents?: number;
  /** Extra response headers. */
  headers?: HeadersInit;
  /** Called once, after the stop function, when the stream has ended. */
  onClose?: (reason: CloseReason) => void;
}

export const STREAM_DEFAULTS = {
  keepAliveMs: 5_000,
  maxBufferedBytes: 1024 * 1024,
  maxBufferedEvents: 1000,
} as const;

// Encoded once: the same bytes go to every stream.
const OPEN_COMMENT = encodeComment();
const KEEP_ALIVE_COMMENT = encodeComment("keep-alive");

const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  // no-transform: compressing proxies would otherwise hold events back to fill a block.
  "cache-control": "no-cache, no-transform",
  // nginx buffers proxied responses unless told not to, per response.
  "x-accel-buffering": "no",
  // No `connection` or `transfer-encoding`: both are forbidden over HTTP/2, and HTTP/1.1 servers
  // choose chunked encoding themselves for a body of unknown length.
};

/** Returns the SSE response for one client, fed by `source`. */
export function eventStream(source: EventSource, options: EventStreamOptions = {}): Response {
  const keepAliveMs = options.keepAliveMs ?? STREAM_DEFAULTS.keepAliveMs;
  const maxBufferedBytes = options.maxBufferedBytes ?? STREAM_DEFAULTS.maxBufferedBytes;
  const maxBufferedEvents = options.maxBufferedEvents ?? STREAM_DEFAULTS.maxBufferedEvents;
  // One queue limit enforces both: a chunk weighs its bytes, but never less than an equal share of
  // the byte limit per allowed event, so neither more bytes nor more events than allowed fit.
  const minWeight = Math.ceil(maxBufferedBytes / maxBufferedEvents);
  const weigh = (chunk: Uint8Array | undefined) => Math.max(chunk?.byteLength ?? 0, minWeight);
  const requestSignal = options.signal;
  const ended = new AbortController();

  let controller: ReadableStreamDefaultController<Uint8Array>;
  let stop: Stop | undefined;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  // Stall detection (see keepAliveTick): what was queued after the last tick, and written since.
  let queuedAtTick = 0;
  let writtenSinceTick = 0;
  let stalledTicks = 0;
  let closed = false;

  /** The single way a stream ends. Idempotent: on Node, Bun and Deno both cancel and the signal fire. */
  const close = (reason: CloseReason, error?: unknown): void => {
    if (closed) return;
    closed = true;
    if (keepAlive !== undefined) clearInterval(keepAlive);
    requestSignal?.removeEventListener("abort", onRequestAbort);
    ended.abort(reason);
    try {
      stop?.();
    } catch (stopError) {
      console.error("edge-sse: event source stop failed", stopError);
    }
    if (reason === "overflow" || reason === "stalled" || reason === "source-error") {
      // Drop what is queued at once: a slow client would otherwise keep it in memory.
      tryTo(() => controller.error(error));
    } else if (reason !== "client-cancel") {
      tryTo(() => controller.close());
    }
    options.onClose?.(reason);
  };

  const onRequestAbort = () => close("request-abort");

  const write = (chunk: Uint8Array): boolean => {
    if (closed) return false;
    try {
      controller.enqueue(chunk);
      writtenSinceTick += weigh(chunk);
    } catch {
      close("write-failed");
      return false;
    }
    // desiredSize = the limit minus the weight still queued for this client.
    if ((controller.desiredSize ?? 0) < 0) {
      close(
        "overflow",
        new Error(`client left more than ${maxBufferedBytes} bytes or ${maxBufferedEvents} events unread`),
      );
      return false;
    }
    return true;
  };

  const queued = () => maxBufferedBytes - (controller.desiredSize ?? 0);

  /**
   * Writes the keep-alive comment, after checking that the client still reads. Measured under
   * wrangler dev: when a client leaves while a Durable Object is writing to it, nothing reads
   * the object's stream any more, yet its request.signal never aborts and enqueue never fails,
   * so the stream would live (and grow) until its buffer overflowed. A queue that did not shrink
   * at all over two periods, while holding data, is a client that is gone or stuck.
   */
  const keepAliveTick = () => {
    const readNothing = queuedAtTick > 0 && queued() >= queuedAtTick + writtenSinceTick;
    stalledTicks = readNothing ? stalledTicks + 1 : 0;
    if (stalledTicks >= 2) {
      close("stalled", new Error(`client read nothing for ${2 * keepAliveMs} ms`));
      return;
    }
    write(KEEP_ALIVE_COMMENT);
    queuedAtTick = queued();
    writtenSinceTick = 0;
  };

  const sink: EventSink = {
    send: (event) => write(encodeEvent(event)),
    write,
    fits: (chunk) => !closed && (controller.desiredSize ?? 0) >= weigh(chunk),
    onPull: undefined,
    comment: (text) => write(encodeComment(text)),
    close: () => close("source-ended"),
    get closed() {
      return closed;
    },
    signal: ended.signal,
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController;
        // Write at once so headers and the client's `open` event do not wait for the first
        // event: Bun holds the headers back until the body yields something.
        write(options.retry === undefined ? OPEN_COMMENT : encodeRetry(options.retry));
        if (requestSignal?.aborted) return close("request-abort");
        requestSignal?.addEventListener("abort", onRequestAbort);
        if (keepAliveMs > 0) keepAlive = setInterval(keepAliveTick, keepAliveMs);
        startSource(source, sink).then(
          (stopSource) => {
            if (closed) stopSource?.();
            else stop = stopSource || undefined;
          },
          (error) => {
            console.error("edge-sse: event source failed", error);
            close("source-error", error);
          },
        );
      },
      pull() {
        if (!closed) sink.onPull?.();
      },
      cancel() {
        close("client-cancel");
      },
    },
    { highWaterMark: maxBufferedBytes, size: weigh },
  );

  const headers = new Headers(options.headers);
  for (const [name, value] of Object.entries(SSE_HEADERS)) headers.set(name, value);
  return new Response(body, { status: 200, headers });
}

// biome-ignore lint/suspicious/noConfusingVoidType: mirrors EventSource's return type.
async function startSource(source: EventSource, sink: EventSink): Promise<void | Stop> {
  return source(sink);
}

function tryTo(action: () => void): void {
  try {
    action();
  } catch {
    // The stream is already closed or errored: nothing left to do.
  }
}
