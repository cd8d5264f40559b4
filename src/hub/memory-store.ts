/** History in process memory: the last `limit` events of one channel, and its recent idempotency keys. */
import { type ChannelEvent, dataWithId, type EventDraft, type Published } from "./channel-event.ts";
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS, type EventStore } from "./store.ts";

/**
 * At most this many idempotency keys per channel; past it the oldest is forgotten early. Each holds
 * its event (shared with the history while it is retained): this bounds what keyed publishes pin.
 */
export const MAX_IDEMPOTENCY_KEYS = 10_000;

export interface MemoryEventStoreOptions {
  /** ids continue from here (see the constructor). */
  firstId?: number;
  idempotencyKeyTtlSeconds?: number;
}

export class MemoryEventStore implements EventStore {
  // events[head..] are retained; the dropped prefix is cut off in batches, not on every append.
  private events: ChannelEvent[] = [];
  private head = 0;
  private lastId: number;
  /** Key -> its event and when it is forgotten. Insertion order is expiry order (one TTL for all). */
  private readonly keys = new Map<string, { event: ChannelEvent; expiresAt: number }>();
  private readonly keyTtlMs: number;

  /**
   * @param options.firstId ids continue from here. The memory hub seeds it from the clock so that
   *   ids keep increasing across a restart, and a client resuming with an old Last-Event-ID gets
   *   everything published since.
   */
  constructor(
    private readonly limit: number,
    { firstId = 1, idempotencyKeyTtlSeconds = DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS }: MemoryEventStoreOptions = {},
  ) {
    this.lastId = firstId - 1;
    this.keyTtlMs = idempotencyKeyTtlSeconds * 1000;
  }

  append(draft: EventDraft, createdAt: string, idempotencyKey?: string): Published {
    if (idempotencyKey !== undefined) {
      this.forgetExpiredKeys();
      const first = this.keys.get(idempotencyKey);
      if (first !== undefined) return { event: first.event, replayed: true };
    }
    const id = ++this.lastId;
    const event: ChannelEvent = { id, event: draft.event, data: dataWithId(draft, id), createdAt };
    this.events.push(event);
    if (this.events.length - this.head > this.limit) this.head++;
    if (this.head >= Math.max(64, this.limit)) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
    if (idempotencyKey !== undefined) {
      this.keys.set(idempotencyKey, { event, expiresAt: Date.now() + this.keyTtlMs });
      if (this.keys.size > MAX_IDEMPOTENCY_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    }
    return { event, replayed: false };
  }

  after(after: number, limit: number): ChannelEvent[] {
    const start = this.indexAfter(after);
    return this.events.slice(start, start + limit);
  }

  oldestId(): number | undefined {
    return this.events[this.head]?.id;
  }

  latestId(): number {
    return this.lastId;
  }

  /** Swept lazily, from the oldest, when a keyed publish comes: no timer per channel. */
  private forgetExpiredKeys(): void {
    const now = Date.now();
    for (const [key, { expiresAt }] of this.keys) {
      if (expiresAt > now) return;
      this.keys.delete(key);
    }
  }

  /** Index of the first retained event with an id above `after` (ids are sorted: binary search). */
  private indexAfter(after: number): number {
    let low = this.head;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.events[middle] as ChannelEvent).id <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
