/**
 * An answer read back as the AI SDK's UI message stream: SSE with one `data: {chunk JSON}` event per
 * chunk, the `x-vercel-ai-ui-message-stream: v1` header, and `data: [DONE]` once the answer's stream
 * is closed (the shape `createUIMessageStreamResponse` answers and `DefaultChatTransport` reads).
 * Always from the first chunk: the AI SDK's client never sends `Last-Event-ID` and, on resume, rebuilds
 * the message from the `start` chunk on (`resumeStreamIsReplay`), so every reader, however often it
 * reconnects, rebuilds exactly the message that the first one got.
 *
 * Built on edge-sse's `eventStream`: keep-alives, backpressure (the log is read only as fast as the
 * client reads) and the caps of `OpenStreams`, as every other stream.
 */
import type { ReadResult, StreamLog } from "../hub/log.ts";
import { type EventSink, type EventStreamOptions, eventStream, type SseEvent } from "../sse/index.ts";
import { followOn, StreamChanges } from "../streams/changes.ts";
import { HEARTBEAT_CHUNK_TYPE, HEARTBEAT_MS } from "./answer.ts";
import { liveAnswerOf } from "./live-answer.ts";
import { DONE, LiveReader } from "./live-reader.ts";

export { DONE };

/** The headers the AI SDK's UI message stream carries (`UI_MESSAGE_STREAM_HEADERS` in `ai`). */
export const UI_MESSAGE_STREAM_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "x-vercel-ai-ui-message-stream": "v1",
};

/** The last chunk a reader gets when the answer vanished before it was closed. */
export const ANSWER_LOST_ERROR = "the answer was lost before it ended (deleted, expired, or its backend lost it)";

/** The last chunk a reader gets when the answer's producer went silent: its process died. */
export const PRODUCER_GONE_ERROR = "the answer stopped before it ended: the process that generated it is gone";

/** The last chunk of a reader that was sent chunks the log then did not store (live-answer.ts). */
export const DIVERGED_ERROR =
  "the answer's stream was closed under its generation: this reader was sent chunks it does not hold";

// Chunks are small (a token or a few): this keeps one read to a few hundred of them.
const DEFAULT_MAX_READ_BYTES = 64 * 1024;

export interface AnswerResponseOptions {
  log: StreamLog;
  /** The answer's durable stream (as given to `startAnswer`). */
  name: string;
  /** How the SSE stream behaves (keep-alive, caps, the request's signal...); headers are added to. */
  stream?: EventStreamOptions;
  /** The most bytes of chunks one read of the log takes. */
  maxReadBytes?: number;
  /**
   * How long an unfinished answer may stay silent (no chunk, no heartbeat) before the reader takes
   * its producer for dead and ends. Default three heartbeats.
   */
  producerTimeoutMs?: number;
}

/** The answer from its first chunk, then live, then `[DONE]`. */
export function answerResponse(options: AnswerResponseOptions): Response {
  const headers = new Headers(options.stream?.headers);
  for (const [name, value] of Object.entries(UI_MESSAGE_STREAM_HEADERS)) headers.set(name, value);
  // Generated here: read as it is generated (live-answer.ts); anywhere else, or ended, from the log.
  const live = liveAnswerOf(options.log, options.name);
  return eventStream(
    live === undefined
      ? (sink) => followAnswer(options, sink)
      : (sink) =>
          new LiveReader(live, sink, (position, beyondLog) => followAnswer(options, sink, position, beyondLog)).start(),
    { ...options.stream, headers },
  );
}

const utf8Decoder = new TextDecoder();

// Each entry's chunks as sent, by the entry itself: the readers of an answer on the process that
// appends it are told the same entry objects (and, in memory, read them), so it is parsed once for
// all of them. Weak: an entry's chunks go with it.
const chunksByEntry = new WeakMap<Uint8Array, readonly string[]>();

/** An entry's chunks, each as its `data:`; heartbeats left out. */
function chunksOf(entry: Uint8Array): readonly string[] {
  let chunks = chunksByEntry.get(entry);
  if (chunks === undefined) {
    // An entry holds one or more compact JSON messages joined by commas (src/hub/log.ts): one is its
    // own text, already what JSON.stringify would make of it.
    const text = utf8Decoder.decode(entry);
    const values = JSON.parse(`[${text}]`) as unknown[];
    const kept = values.filter((value) => (value as { type?: unknown } | null)?.type !== HEARTBEAT_CHUNK_TYPE);
    chunks = values.length === 1 ? (kept.length === 1 ? [text] : []) : kept.map((value) => JSON.stringify(value));
    chunksByEntry.set(entry, chunks);
  }
  return chunks;
}

/**
 * The answer from the log, from entry `position` on. `beyondLog`: this reader was sent chunks the
 * log does not have: it is told that the answer is lost, or that its message is not the log's.
 */
async function* followAnswer(
  options: AnswerResponseOptions,
  sink: EventSink,
  position = 0,
  beyondLog = false,
): AsyncGenerator<SseEvent> {
  const { log, name } = options;
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const producerTimeoutMs = options.producerTimeoutMs ?? 3 * HEARTBEAT_MS;
  // One watch for the whole response, set before the first read (see src/streams/changes.ts).
  const changes = new StreamChanges(log, name);
  try {
    let result: ReadResult = await log.read(name, position, maxReadBytes);
    while (!sink.closed) {
      if (result.kind !== "found") {
        // Deleted or expired while read, or never there: say so, so that no client waits forever.
        yield { data: JSON.stringify({ type: "error", errorText: ANSWER_LOST_ERROR }) };
        yield { data: DONE };
        return;
      }
      if (beyondLog) {
        // Not the log's message: say so, and end without `[DONE]`.
        yield { data: JSON.stringify({ type: "error", errorText: DIVERGED_ERROR }) };
        return;
      }
      for (const entry of result.entries) {
        for (const data of chunksOf(entry)) yield { data };
      }
      position = result.next;
      if (position >= result.record.tail) {
        if (result.record.closed) {
          yield { data: DONE };
          return;
        }
        const changed = await changes.next(Date.now() + producerTimeoutMs, sink.signal);
        if (changed === undefined) {
          if (sink.signal.aborted) return; // the client left
          // Not a chunk nor a heartbeat for several heartbeats: nobody is generating this any more.
          yield { data: JSON.stringify({ type: "error", errorText: PRODUCER_GONE_ERROR }) };
          yield { data: DONE };
          return;
        }
        // Appends told with their entries, from where this reader is: no need to ask the log.
        const told = followOn(changed, position);
        if (told !== undefined) {
          result = told;
          continue;
        }
      }
      result = await log.read(name, position, maxReadBytes);
    }
  } finally {
    changes.stop();
  }
}
