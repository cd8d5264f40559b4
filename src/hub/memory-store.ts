/**
 * A channel's history in process memory, on its own: a `ChannelLog` over a channel stream of a
 * `MemoryLog` of its own (the memory hub shares one log between its channels and /v1/stream).
 */
import { ChannelLog } from "./channel-log.ts";
import { channelStreamName } from "./channel-stream-name.ts";
import { MemoryLog } from "./memory/memory-log.ts";

export { MAX_IDEMPOTENCY_KEYS } from "./memory/memory-log.ts";

export interface MemoryEventStoreOptions {
  /** ids continue from here (the first event gets this id). */
  firstId?: number;
  idempotencyKeyTtlSeconds?: number;
}

export class MemoryEventStore extends ChannelLog {
  constructor(limit: number, { firstId = 1, idempotencyKeyTtlSeconds }: MemoryEventStoreOptions = {}) {
    super(new MemoryLog().channel(channelStreamName("channel")), limit, {
      firstPosition: firstId - 1,
      idempotencyKeyTtlSeconds,
    });
  }
}
