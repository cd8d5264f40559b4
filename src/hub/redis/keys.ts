/**
 * Where one channel lives in Redis. Every name of a channel carries the same hash tag (`{name}`),
 * so on Redis Cluster its counter, history and sharded pub/sub channel sit in one slot: the publish
 * script may touch them together, and SPUBLISH reaches only that shard. Channel names are
 * `[A-Za-z0-9_-]{1,64}` (src/app/messages.ts), so they never contain a brace.
 */
export interface ChannelKeys {
  /** The last id issued (a string holding an integer). */
  counter: string;
  /** The history: a stream whose entry ids are `<message id>-0`, trimmed to the history limit. */
  history: string;
  /** The sharded pub/sub channel each message is announced on, as its JSON. */
  pubsub: string;
  /**
   * Where an idempotency key's first event is kept (the stored JSON, see stored-event.ts), for
   * IDEMPOTENCY_KEY_TTL_SECONDS: this plus the key, in the channel's slot.
   */
  idempotencyPrefix: string;
  /** Subscribers per process: a hash of process id to `"<count> <expires at, ms>"`. */
  presence: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  // A brace would move the hash tag and split the channel over slots (the app's names cannot hold one).
  if (channel.includes("{") || channel.includes("}")) {
    throw new TypeError(`a Redis channel name cannot contain braces, got ${JSON.stringify(channel)}`);
  }
  const tag = `${prefix}:{${channel}}`;
  return {
    counter: `${tag}:id`,
    history: `${tag}:history`,
    pubsub: `${tag}:messages`,
    presence: `${tag}:presence`,
    idempotencyPrefix: `${tag}:idempotency:`,
  };
}
