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
import type { StreamLog } from "../hub/log.ts";
import { type EventSink, type EventStreamOptions, eventStream, type SseEvent } from "../sse/index.ts";
import { HEARTBEAT_CHUNK_TYPE, HEARTBEAT_MS } from "./answer.ts";

/** The headers the AI SDK's UI message stream carries (`UI_MESSAGE_STREAM_HEADERS` in `ai`). */
export const UI_MESSAGE_STREAM_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "x-vercel-ai-ui-message-stream": "v1",
};

/** What ends a UI message stream (the AI SDK's `JsonToSseTransformStream` sends it last). */
export const DONE = "[DONE]";

/** The last chunk a reader gets when the answer vanished before it was closed. */
export const ANSWER_LOST_ERROR = "the answer was lost before it ended (deleted, expired, or its backend lost it)";

/** The last chunk a reader gets when the answer's producer went silent: its process died. */
export const PRODUCER_GONE_ERROR = "the answer stopped before it ended: the process that generated it is gone";

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
  return eventStream((sink) => followAnswer(options, sink), { ...options.stream, headers });
}

const utf8Decoder = new TextDecoder();

async function* followAnswer(options: AnswerResponseOptions, sink: EventSink): AsyncGenerator<SseEvent> {
  const { log, name } = options;
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const producerTimeoutMs = options.producerTimeoutMs ?? 3 * HEARTBEAT_MS;
  let position = 0;
  while (!sink.closed) {
    // Watch before reading: an append between the read and the wait still wakes us.
    const change = changeOf(log, name, sink.signal, producerTimeoutMs);
    try {
      const result = await log.read(name, position, maxReadBytes);
      if (result.kind !== "found") {
        // Deleted or expired while read, or never there: say so, so that no client waits forever.
        yield { data: JSON.stringify({ type: "error", errorText: ANSWER_LOST_ERROR }) };
        yield { data: DONE };
        return;
      }
      for (const entry of result.entries) {
        // An entry holds one or more compact JSON messages joined by commas (src/hub/log.ts).
        for (const chunk of JSON.parse(`[${utf8Decoder.decode(entry)}]`) as unknown[]) {
          if ((chunk as { type?: unknown } | null)?.type === HEARTBEAT_CHUNK_TYPE) continue;
          yield { data: JSON.stringify(chunk) };
        }
      }
      position = result.next;
      if (position < result.record.tail) continue;
      if (result.record.closed) {
        yield { data: DONE };
        return;
      }
      const happened = await change.happened;
      if (happened === "silent") {
        // Not a chunk nor a heartbeat for several heartbeats: nobody is generating this any more.
        yield { data: JSON.stringify({ type: "error", errorText: PRODUCER_GONE_ERROR }) };
        yield { data: DONE };
        return;
      }
      if (happened === "left") return;
    } finally {
      change.stop();
    }
  }
}

/**
 * Resolves "changed" when the stream changes, "left" when `signal` aborts (the client left), and
 * "silent" when nothing happened for `silenceMs`.
 */
function changeOf(log: StreamLog, name: string, signal: AbortSignal, silenceMs: number) {
  let settle: (what: "changed" | "left" | "silent") => void = () => {};
  const happened = new Promise<"changed" | "left" | "silent">((resolve) => {
    settle = resolve;
  });
  const unwatch = log.watch(name, () => settle("changed"));
  const onAbort = () => settle("left");
  signal.addEventListener("abort", onAbort);
  const timer = setTimeout(() => settle("silent"), silenceMs);
  return {
    happened,
    stop() {
      unwatch();
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}
