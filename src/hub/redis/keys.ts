/**
 * Where one channel lives in Redis: its stream of the log, `channels/<name>` (see
 * channel-stream-name.ts), whose keys are any stream's (stream-keys.ts): the record, the entries
 * (each event's JSON, the event with id N at position N - 1) and the `changes` pub/sub channel on
 * which every event is announced. The channel's own keys (idempotency, presence) carry the same
 * hash tag, `{channels/<name>}`: on Redis Cluster everything the publish script touches (record,
 * entries, changes, the idempotency key) sits in one slot, and SPUBLISH reaches only that shard.
 */
import { channelStreamName } from "../channel-stream-name.ts";
import { type StreamKeys, streamKeys, streamTag } from "./stream-keys.ts";

export interface ChannelKeys {
  /**
   * The channel's stream. Its record hash also holds `first`: the position the channel's first
   * event went to, so that a history that starts later is known to have dropped some (everTrimmed).
   */
  stream: StreamKeys;
  /**
   * Where an idempotency key's first event is kept (its entry, see channel-entry.ts), for
   * IDEMPOTENCY_KEY_TTL_SECONDS: this plus the key, in the channel's slot.
   */
  idempotencyPrefix: string;
  /** Subscribers per process: a hash of process id to `"<count> <expires at, ms>"`. */
  presence: string;
  /**
   * The keys of the version before channels were streams, tagged `{<name>}` (another slot): read
   * once, by the migration (legacy-channel.ts), never written.
   */
  legacy: {
    /** The last id issued (a string holding an integer). */
    counter: string;
    /** A Redis stream whose entry ids are `<event id>-0`, each event's JSON in field `m`. */
    history: string;
  };
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  // A brace would have moved the legacy keys' hash tag (the app's names cannot hold one).
  if (channel.includes("{") || channel.includes("}")) {
    throw new TypeError(`a Redis channel name cannot contain braces, got ${JSON.stringify(channel)}`);
  }
  const name = channelStreamName(channel);
  const tag = streamTag(prefix, name);
  const legacyTag = `${prefix}:{${channel}}`;
  return {
    stream: streamKeys(prefix, name),
    idempotencyPrefix: `${tag}:idempotency:`,
    presence: `${tag}:presence`,
    legacy: { counter: `${legacyTag}:id`, history: `${legacyTag}:history` },
  };
}
