/**
 * Where a channel is in the log: the stream `channels/<name>` (see channel-log.ts), which any
 * Durable Streams client reads at /v1/stream/channels/<name>. Channel names are
 * `[A-Za-z0-9_-]{1,64}`, so the stream's name holds no other slash.
 */
export const CHANNEL_STREAMS_PREFIX = "channels/";

export const channelStreamName = (channel: string) => `${CHANNEL_STREAMS_PREFIX}${channel}`;

/** The channel a stream name is, or undefined for a stream that is not a channel's. */
export function channelOfStream(name: string): string | undefined {
  return name.startsWith(CHANNEL_STREAMS_PREFIX) ? name.slice(CHANNEL_STREAMS_PREFIX.length) : undefined;
}
