/**
 * `edge-sse`: the runtime-neutral core. The spec encoder, the SSE response with its lifecycle
 * (`eventStream`, fed by a function or an async iterable), typed events, and the registry of a
 * process's open streams.
 */
export {
  encodeComment,
  encodeEvent,
  encodeRetry,
  formatComment,
  formatEvent,
  type SseEvent,
} from "./encode.ts";
export {
  type AnyEvents,
  type ErrorBody,
  type EventOf,
  EventStreamError,
  errorBody,
  type ItemOf,
  SOURCE_ERROR_EVENT,
  type SourceErrorData,
} from "./event-map.ts";
export type { IterableSource } from "./iterable.ts";
export {
  OpenStreams,
  type OpenStreamsOptions,
  type OpenStreamsStats,
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
  type Stop,
  type StreamDeadline,
  type StreamTransport,
  takeOver,
} from "./stream.ts";
