/** edge-sse's public API: the spec encoder and the SSE response with its lifecycle. */
export {
  encodeComment,
  encodeEvent,
  encodeRetry,
  formatComment,
  formatEvent,
  type SseEvent,
} from "./encode.ts";
export { StreamStats } from "./stats.ts";
export {
  type CloseReason,
  type EventSink,
  type EventSource,
  type EventStreamOptions,
  eventStream,
  STREAM_DEFAULTS,
} from "./stream.ts";
