/**
 * The SSE bytes of a channel's newest events, in its object's memory, so that a replay page
 * (`ChannelObject.history`) within them is answered without reading SQLite or decoding entries: the
 * page a subscriber reads after a reconnect (a restart, a deploy: thousands at once) is nearly always
 * of the newest events. Filled by publishes and by pages read from storage that join on; lost with
 * the instance (hibernation, eviction, restart), when storage answers again. Bounded by the channel's
 * history limit and by bytes, so that big events cannot take the object's memory.
 */
import type { ChannelEvent } from "../channel-event.ts";

/** At most this many bytes of events are kept (an object has 128 MB). */
export const RECENT_EVENTS_BYTES = 1024 * 1024;

export class RecentEvents {
  /** The events with ids `first`, `first + 1`, …, in order: contiguous by construction. */
  private first = 0;
  private events: Uint8Array[] = [];
  private bytes = 0;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes = RECENT_EVENTS_BYTES,
  ) {}

  /** A new event, published just now: the newest. */
  published(id: number, sse: Uint8Array): void {
    if (this.events.length > 0 && id !== this.first + this.events.length) this.clear();
    if (this.events.length === 0) this.first = id;
    this.events.push(sse);
    this.bytes += sse.byteLength;
    let drop = 0;
    while (drop < this.events.length && (this.events.length - drop > this.maxEvents || this.bytes > this.maxBytes)) {
      this.bytes -= (this.events[drop] as Uint8Array).byteLength;
      drop++;
    }
    if (drop > 0) {
      this.events = this.events.slice(drop);
      this.first += drop;
    }
  }

  /**
   * Events read from storage, `encoded` their SSE bytes: kept if they end just before the oldest one
   * held (or are the newest, `latestId`, when none is held), are contiguous, and fit.
   */
  read(events: ChannelEvent[], encoded: Uint8Array[], latestId: number): void {
    const last = events.at(-1);
    if (last === undefined) return;
    const joins = this.events.length === 0 ? last.id === latestId : last.id + 1 === this.first;
    if (!joins || last.id - (events[0] as ChannelEvent).id + 1 !== events.length) return;
    let bytes = 0;
    for (const sse of encoded) bytes += sse.byteLength;
    if (this.events.length + events.length > this.maxEvents || this.bytes + bytes > this.maxBytes) return;
    this.events = [...encoded, ...this.events];
    this.first = (events[0] as ChannelEvent).id;
    this.bytes += bytes;
  }

  /** The events with ids `from` to `to` (both included), or undefined unless all are held. */
  between(from: number, to: number): Uint8Array[] | undefined {
    if (from > to) return [];
    if (from < this.first || to >= this.first + this.events.length) return undefined;
    return this.events.slice(from - this.first, to - this.first + 1);
  }

  private clear(): void {
    this.events = [];
    this.bytes = 0;
  }
}
