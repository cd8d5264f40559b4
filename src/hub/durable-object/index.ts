/**
 * The Workers backend: the channel's Durable Object, its shards, and the Hub a Worker uses; the
 * stream's Durable Object and the Durable Streams log a Worker uses.
 */
export { ChannelObject, type HistoryPage } from "./channel-object.ts";
export { ChannelShard } from "./channel-shard.ts";
export { DurableObjectLog, type StreamNamespaces } from "./durable-object-log.ts";
export { type ChannelNamespaces, DurableObjectHub } from "./hub.ts";
export { StreamObject } from "./stream-object.ts";
