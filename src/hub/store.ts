/**
 * Where a channel keeps its history and the idempotency keys it has seen. Synchronous on purpose:
 * the in-memory array and Durable Object SQLite both answer at once, which makes "replay, then go
 * live" a single uninterrupted step (see channel.ts), and makes "seen this key? else store" one
 * step that no concurrent publish can fall into. A backend that must await (Redis, say)
 * implements `Hub` instead.
 */
import type { ChannelEvent, EventDraft, Published } from "./channel-event.ts";

export interface EventStore {
  /**
   * Stores the event with the next id, dropping the oldest beyond the history limit. With an
   * idempotency key already used within its TTL, stores nothing and returns that first event.
   */
  append(draft: EventDraft, createdAt: string, idempotencyKey?: string): Published;
  /** Up to `limit` retained events with an id above `after`, oldest first. */
  after(after: number, limit: number): ChannelEvent[];
  /** The oldest retained id, or undefined when nothing is retained. */
  oldestId(): number | undefined;
  /** The newest id ever issued (0 before the first). */
  latestId(): number;
}

/** How long a channel remembers an idempotency key by default: a day, as Stripe does. */
export const DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS = 86_400;
