/**
 * `edge-sse/client`: a fetch-based Server-Sent Events client for browsers, Node, Deno, Bun and
 * Workers. It imports nothing from the server side.
 *
 * ```ts
 * import { connectEventStream } from "edge-sse/client";
 * const stream = connectEventStream<{ message: { text: string } }>({
 *   url: "/api/messages/stream",
 *   headers: async () => ({ authorization: `Bearer ${await freshToken()}` }),
 * });
 * stream.on("message", ({ data }) => console.log(data.text));
 *
 * // Several channels in one stream, each resumed exactly after a reconnect:
 * const feeds = connectChannels<{ news: { message: Item }; chat: { message: Item } }>({
 *   url: "/api/stream",
 *   channels: ["news", "chat"],
 * });
 * feeds.channel("news").on("message", ({ data }) => console.log(data.text));
 * ```
 */
export { type BackoffOptions, backoffDelay } from "./backoff.ts";
export {
  type ChannelMap,
  ChannelSetClient,
  type ChannelSetEvents,
  type ChannelSetOptions,
  connectChannels,
} from "./channel-set.ts";
export { connectEventStream, EventStreamClient } from "./event-stream-client.ts";
export type { AnyEvents, CloseReason, EventHandler, EventStreamOptions, ReceivedEvent } from "./types.ts";
