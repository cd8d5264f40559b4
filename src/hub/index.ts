/**
 * `edge-sse/hub`: named channels of events (any JSON value) and the streams that follow them. `Hub` is the seam
 * an app's routes depend on; `MemoryHub` keeps channels in this process, each a stream of its log
 * (`channels/<name>`); `Channel` is one channel's subscribers and `ChannelLog` its history over a
 * synchronous log's stream (`ChannelStorage`), for a backend of your own. The Redis backend, which shares
 * channels between processes, is `edge-sse/hub/redis`; the Workers backend is `edge-sse/workers`.
 *
 * This entry loads only what it names. A backend that needs a client library (Redis, say) is
 * exported from here but must load that library inside its own `connect`/constructor with a
 * dynamic `import()`, never at the top of its module: importing `edge-sse/hub` for `MemoryHub`
 * must not load, or require the install of, a client its user does not use.
 */

export { BackendUnavailableError } from "./backend-unavailable.ts";
export {
  Channel,
  type ChannelSink,
  type ChannelStats,
  type ChannelSubscriber,
  HISTORY_TRUNCATED_EVENT,
  PRESENCE_EVENT,
  type StreamRequest,
  type StreamSettings,
} from "./channel.ts";
export {
  type ChannelEvent,
  EVENT_NAME,
  type EventDraft,
  encodeChannelEvent,
  type Publication,
  type Published,
  RESERVED_EVENT_NAMES,
} from "./channel-event.ts";
export { ChannelLog, type ChannelLogOptions, type ChannelStorage } from "./channel-log.ts";
export { CHANNEL_STREAMS_PREFIX, channelOfStream, channelStreamName } from "./channel-stream-name.ts";
export type { BackendStatus, Hub, StreamOptions, SubscribeOptions, Subscription } from "./hub.ts";
export { type HubMetrics, NO_HUB_METRICS } from "./hub-metrics.ts";
export { MemoryHub } from "./memory.ts";
export { MAX_IDEMPOTENCY_KEYS, MemoryEventStore, type MemoryEventStoreOptions } from "./memory-store.ts";
export { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS, type EventStore } from "./store.ts";
