/**
 * A channel's run: the messages it delivered in this turn of the event loop and has not written yet,
 * encoded once. At the end of the turn (EndOfTurn) every live subscriber gets the whole run as one
 * write: one syscall and one chunk per subscriber for a burst, not one per message. The in-process
 * `Channel` fills it as it publishes, `RedisChannel` as announcements read together arrive (node-redis
 * hands over the messages of one socket read in one task). See docs/architecture.md ("Fan-out").
 */
import { concatBytes } from "../sse/encode.ts";
import type { ChannelSink } from "./channel.ts";
import { type ChannelEvent, encodeChannelEvent } from "./channel-event.ts";
import type { EndOfTurn } from "./end-of-turn.ts";
import type { HubMetrics } from "./hub-metrics.ts";

// A run is sent at once when it reaches this size, instead of at the end of the turn: a burst never
// holds more than this in one chunk per subscriber.
const MAX_RUN_MESSAGES = 64;
const MAX_RUN_BYTES = 64 * 1024;

export class Run {
  private chunks: Uint8Array[] = [];
  /** The run's events, in order, for subscribers that `take` them. */
  private events: ChannelEvent[] = [];
  private bytes = 0;
  private scheduled = false;
  /**
   * Subscribers that joined `live` while the run was pending, with the newest id they already had
   * (replayed, or delivered before they came): they get only the part of the run after it.
   */
  private joinedDuring = new Map<ChannelSink, number>();

  constructor(
    /** The channel's live subscribers: the run goes to each of them, as they are when it is sent. */
    private readonly live: ReadonlySet<ChannelSink>,
    /** When the run goes out: shared by a hub's channels. */
    private readonly endOfTurn: EndOfTurn,
    /** Counts each message written to each subscriber. */
    private readonly metrics: HubMetrics,
  ) {}

  /** Adds the next message, in order: written at the end of this turn, or now if the run is full. */
  add(event: ChannelEvent): void {
    const bytes = encodeChannelEvent(event);
    this.chunks.push(bytes);
    this.events.push(event);
    this.bytes += bytes.byteLength;
    if (this.chunks.length >= MAX_RUN_MESSAGES || this.bytes >= MAX_RUN_BYTES) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      this.endOfTurn.schedule(this.sendAtEndOfTurn);
    }
  }

  /**
   * A subscriber just added to `live` that holds every message up to `holds`: of a pending run it
   * gets only what follows. Call it for every subscriber that joins, so none gets a message twice.
   */
  joined(sink: ChannelSink, holds: number): void {
    if (this.events.length > 0) this.joinedDuring.set(sink, holds);
  }

  /** A subscriber that left `live`. */
  left(sink: ChannelSink): void {
    this.joinedDuring.delete(sink);
  }

  private readonly sendAtEndOfTurn = () => {
    this.scheduled = false;
    this.send();
  };

  /** Writes the pending run to every live subscriber now, once each (also before a notice that must follow it). */
  send(): void {
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    const events = this.events;
    const joined = this.joinedDuring;
    const chunk = chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks, this.bytes);
    this.chunks = [];
    this.events = [];
    this.bytes = 0;
    if (joined.size > 0) this.joinedDuring = new Map();
    // A subscriber whose buffer overflows is closed by write() and leaves `live` during the loop,
    // which a Set allows.
    let delivered = 0;
    for (const sink of this.live) {
      const had = joined.size === 0 ? undefined : joined.get(sink);
      if (had === undefined) {
        if (sink.take === undefined ? sink.write(chunk) : sink.take(events)) delivered += chunks.length;
        continue;
      }
      // It joined mid-run: what it already has is the part of the run up to `had`.
      const from = events.findIndex((event) => event.id > had);
      if (from === -1) continue;
      const rest =
        sink.take === undefined ? sink.write(concatBytes(chunks.slice(from))) : sink.take(events.slice(from));
      if (rest) delivered += chunks.length - from;
    }
    if (delivered > 0) this.metrics.delivered(delivered);
  }
}
