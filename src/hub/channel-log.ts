/**
 * A channel is a stream of the log: `channels/<name>` (see channel-stream-name.ts), JSON, each entry
 * one event (channel-entry.ts), the event with id N at position N - 1, keeping its newest
 * HISTORY_LIMIT events (`StreamRecord.retention`), never expiring, written by the channel only. So a
 * channel's ids are the stream's offsets, its history is the stream's retained entries, and any
 * Durable Streams client reads a channel at /v1/stream/channels/<name>.
 *
 * `ChannelLog` is the channel's `EventStore` over one stream of a synchronous log (the in-process
 * log, a Durable Object's SQLite): `ChannelStorage` is all a backend provides. Redis, whose log must
 * be awaited, writes the same records and entries from its publish script instead.
 */
import { channelEntryOf, decodeStored } from "./channel-entry.ts";
import { type ChannelEvent, dataWithId, type EventDraft, type Published } from "./channel-event.ts";
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS, type EventStore } from "./store.ts";
import { applyWrite, channelRecord, type StreamRecord } from "./stream-rules.ts";

/** One stream of a synchronous log, as a channel uses it. Every call completes before it returns. */
export interface ChannelStorage {
  /** The stream's record; undefined before the channel's first event. */
  record(): StreamRecord | undefined;
  /**
   * Stores `entries` at positions from `from` on and `record` (which already counts them) in one
   * step; then drops the entries before `record.head` (retention moved it) and takes their bytes
   * off `record.bytes`.
   */
  write(from: number, entries: Uint8Array[], record: StreamRecord): void;
  /** The entries at positions `from` up to `to` (excluded) that are kept, in order. */
  entries(from: number, to: number): Uint8Array[];
  /** The entry an idempotency key first stored, unless it expired by `now`. */
  keyed(key: string, now: number): Uint8Array | undefined;
  /** Remembers the entry a key stored until `expiresAt` (ms); in the same step as its `write`. */
  rememberKey(key: string, entry: Uint8Array, expiresAt: number): void;
}

export interface ChannelLogOptions {
  /** Ids start above this (a new channel's record starts here). */
  firstPosition?: number;
  idempotencyKeyTtlSeconds?: number;
  clock?: () => number;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class ChannelLog implements EventStore {
  private readonly firstPosition: number;
  private readonly keyTtlMs: number;
  private readonly clock: () => number;
  // The events this instance stored or decoded, by their entry: a replay from memory decodes nothing.
  private readonly decoded = new WeakMap<Uint8Array, ChannelEvent>();

  constructor(
    private readonly storage: ChannelStorage,
    private readonly historyLimit: number,
    {
      firstPosition = 0,
      idempotencyKeyTtlSeconds = DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS,
      clock = Date.now,
    }: ChannelLogOptions = {},
  ) {
    this.firstPosition = firstPosition;
    this.keyTtlMs = idempotencyKeyTtlSeconds * 1000;
    this.clock = clock;
  }

  append(draft: EventDraft, createdAt: string, idempotencyKey?: string): Published {
    const now = this.clock();
    if (idempotencyKey !== undefined) {
      const first = this.storage.keyed(idempotencyKey, now);
      if (first !== undefined) return { event: this.eventOf(first), replayed: true };
    }
    const record =
      this.storage.record() ?? channelRecord(this.firstPosition, this.historyLimit, now, crypto.randomUUID());
    // A HISTORY_LIMIT changed since the record was made applies from now on.
    record.retention = this.historyLimit;
    const from = record.tail;
    const id = from + 1;
    const event: ChannelEvent = { id, event: draft.event, data: dataWithId(draft, id), createdAt };
    const entry = utf8.encode(channelEntryOf(event));
    this.decoded.set(entry, event);
    applyWrite(
      record,
      { kind: "write", entries: [entry], close: false, producer: undefined, streamSeq: undefined },
      now,
    );
    this.storage.write(from, [entry], record);
    if (idempotencyKey !== undefined) this.storage.rememberKey(idempotencyKey, entry, now + this.keyTtlMs);
    return { event, replayed: false };
  }

  after(after: number, limit: number): ChannelEvent[] {
    const record = this.storage.record();
    if (record === undefined) return [];
    const from = Math.max(after, record.head);
    const to = Math.min(from + limit, record.tail);
    if (from >= to) return [];
    return this.storage.entries(from, to).map((entry) => this.eventOf(entry));
  }

  oldestId(): number | undefined {
    const record = this.storage.record();
    return record === undefined || record.head === record.tail ? undefined : record.head + 1;
  }

  latestId(): number {
    return this.storage.record()?.tail ?? this.firstPosition;
  }

  private eventOf(entry: Uint8Array): ChannelEvent {
    let event = this.decoded.get(entry);
    if (event === undefined) {
      event = decodeStored(utf8Decoder.decode(entry));
      this.decoded.set(entry, event);
    }
    return event;
  }
}
