/**
 * What the Worker and a channel's objects say to each other. A subscriber's Worker request opens
 * a WebSocket to the channel's object (or to one of its shards) with these headers; the object
 * sends messages on it as binary frames of their SSE bytes, encoded once (see frame.ts); the
 * Worker sends back only `LIVE_NOTICE`, once it has caught up.
 */

/** Where the subscriber resumes (its Last-Event-ID), so the object can count it as catching up. */
export const AFTER_HEADER = "x-edge-sse-after";
/** The client's address: per-client stream caps count it over the whole channel. */
export const CLIENT_HEADER = "x-edge-sse-client";
/** On a reconnect: the shard the subscriber had (0: the channel's object), so it keeps its place. */
export const PREVIOUS_SHARD_HEADER = "x-edge-sse-previous-shard";
/** The channel object's answer: the newest id when the subscriber joined. */
export const LATEST_HEADER = "x-edge-sse-latest";
/** The channel object's answer when it is full: the shard to connect to instead. */
export const SHARD_HEADER = "x-edge-sse-shard";
/** To a shard: the channel object's id, so the shard can report its load there. */
export const CHANNEL_ID_HEADER = "x-edge-sse-channel-id";
/** To a shard: whether the subscriber replays history first (counted as catching up). */
export const CATCHING_UP_HEADER = "x-edge-sse-catching-up";
/**
 * To a shard: the channel's object placed the subscriber there (a first connect, not a reconnect),
 * so the shard's next report says it joined and the object stops counting its place as reserved.
 */
export const PLACED_HEADER = "x-edge-sse-placed";
/**
 * The shard's answer: the newest id it delivered since it started (0: none yet). A placed
 * subscriber missed only those newer than the `LATEST_HEADER` it was placed with.
 */
export const DELIVERED_HEADER = "x-edge-sse-delivered";
/** The answer when a cap refuses the subscriber: which one (see StreamCap). */
export const REFUSED_HEADER = "x-edge-sse-refused";

/** The subscriber asked for presence events (`?presence=1`): the object sends it the channel's count. */
export const PRESENCE_HEADER = "x-edge-sse-presence";
/**
 * The tag of a socket whose subscriber asked for presence, after its client-address tag (if any):
 * `ctx.getWebSockets(PRESENCE_TAG)` lists just those. No address looks like it.
 */
export const PRESENCE_TAG = "edge-sse:presence";

/**
 * The tag of every subscriber's socket: `ctx.getWebSockets(SUBSCRIBER_TAG)` lists the subscribers
 * and not the other sockets of a channel's object (the watchers of its stream, stream-watchers.ts).
 */
export const SUBSCRIBER_TAG = "edge-sse:subscriber";

/** Our tags start so; no client address does. */
export const OWN_TAG_PREFIX = "edge-sse:";

/**
 * The tags a subscriber's socket is accepted with: its client address first, then PRESENCE_TAG,
 * then SUBSCRIBER_TAG.
 */
export function socketTags(client: string | undefined, presence: boolean): string[] {
  const tags = client === undefined ? [] : [client];
  if (presence) tags.push(PRESENCE_TAG);
  tags.push(SUBSCRIBER_TAG);
  return tags;
}

/** Sent by the Worker once a subscriber has replayed what it missed and follows live messages. */
export const LIVE_NOTICE = "live";

/** What each of a channel's objects keeps on a subscriber's socket, which survives hibernation. */
export interface SubscriberAttachment {
  /** False while the subscriber replays history (for `catchingUp` in stats). */
  live: boolean;
}

/** The name of shard `shard` of the channel whose object has id `channelId`. */
export function shardName(channelId: string, shard: number): string {
  return `${channelId}:${shard}`;
}
