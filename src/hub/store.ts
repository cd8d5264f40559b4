/**
 * Where a channel keeps its history. Synchronous on purpose: the in-memory array and Durable
 * Object SQLite both answer at once, which makes "replay, then go live" a single uninterrupted
 * step (see channel.ts). A backend that must await (Redis, say) implements `Hub` instead.
 */
import type { Message, NewMessage } from "./message.ts";

export interface MessageStore {
  /** Stores a new message with the next id, dropping the oldest beyond the history limit. */
  append(message: NewMessage, createdAt: string): Message;
  /** Up to `limit` retained messages with an id above `after`, oldest first. */
  after(after: number, limit: number): Message[];
  /** The oldest retained id, or undefined when nothing is retained. */
  oldestId(): number | undefined;
  /** The newest id ever issued (0 before the first). */
  latestId(): number;
}
