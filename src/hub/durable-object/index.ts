/** The Workers backend: the channel's Durable Object, its shards, and the Hub a Worker uses. */
export { ChannelObject, type HistoryPage } from "./channel-object.ts";
export { ChannelShard } from "./channel-shard.ts";
export { type ChannelNamespaces, DurableObjectHub } from "./hub.ts";
