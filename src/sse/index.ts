/** edge-sse's public API: the spec encoder and the SSE response with its lifecycle. */
export {
  encodeComment,
  encodeEvent,
  encodeRetry,
  formatComment,
  formatEvent,
  type SseEvent,
} from "./encode.ts";
export {
  OpenStreams,
  type OpenStreamsOptions,
  SHUTDOWN_RETRY_MS,
  type StreamCap,
  StreamCapError,
  type StreamCaps,
} from "./open-streams.ts";
export {
  type CloseReason,
  type EventSink,
  type EventSource,
  type EventStreamOptions,
  eventStream,
  SSE_HEADERS,
  SseStream,
  STREAM_DEFAULTS,
  type StreamTransport,
  takeOver,
} from "./stream.ts";
