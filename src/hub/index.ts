/**
 * `edge-sse/hub`: named channels of messages and the streams that follow them. `Hub` is the seam
 * an app's routes depend on; `MemoryHub` keeps channels in this process; `Channel` is one
 * channel's subscribers and history, for a backend of your own. The Redis backend, which shares
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
  type ChannelStats,
  HISTORY_TRUNCATED_EVENT,
  PRESENCE_EVENT,
  type StreamRequest,
  type StreamSettings,
} from "./channel.ts";
export type { BackendStatus, Hub, StreamOptions } from "./hub.ts";
export { type HubMetrics, NO_HUB_METRICS } from "./hub-metrics.ts";
export { MemoryHub } from "./memory.ts";
export { MemoryMessageStore } from "./memory-store.ts";
export { encodeMessage, MESSAGE_LIMITS, type Message, type NewMessage, newMessageSchema } from "./message.ts";
export type { MessageStore } from "./store.ts";
