/**
 * One channel's local subscribers in one process of a Redis-backed deployment, and the order in
 * which they get its messages. Every process numbers nothing itself: Redis does (publish-script.ts).
 * A process only delivers, and delivers each id once, in order, with no gap:
 *
 * - It remembers the last id it handed to its live subscribers (`delivered`), read from Redis once
 *   it has subscribed to the channel's pub/sub, so nothing announced after that point is missed.
 * - An announced id right after `delivered` joins this turn's run (run.ts, the hot path): node-redis
 *   hands over the announcements of one socket read in one task, and at the end of the turn every
 *   live subscriber gets the run as one write of bytes encoded once. `delivered` moves as ids join
 *   the run. An id at or below it is a duplicate and is dropped. An id further on means
 *   announcements were lost (a dropped pub/sub connection, a reconnect): the missing range is read
 *   from the history first, so the order holds.
 * - After the pub/sub connection comes back, or when Redis could not be reached, the process reads
 *   everything after `delivered` from the history: what was published meanwhile arrives late, but
 *   arrives. What fell out of the history meanwhile is announced with `history-truncated`.
 * - A subscriber that resumes (Last-Event-ID) replays from the history, paced by how fast it reads,
 *   until it reaches `delivered`, and joins the live set in the same synchronous step that checks
 *   that: the next live id is the next one it needs, and of a pending run it gets only what follows
 *   the id it holds. One that resumes ahead of `delivered` (it came from a process whose pub/sub was
 *   quicker) waits until this process catches up with it.
 * - Presence (the channel's subscriber count, for subscribers that asked): each process reports its
 *   own count to Redis when it changes (at most once per PRESENCE_INTERVAL_MS) and announces that it
 *   did; a process with watchers then reads the total, at most as often, and sends it if it moved.
 * See docs/architecture.md ("Redis").
 */
import { encodeEvent } from "../../sse/index.ts";
import { type ChannelSink, HISTORY_TRUNCATED_EVENT, PRESENCE_EVENT, PRESENCE_INTERVAL_MS } from "../channel.ts";
import { decodeStored } from "../channel-entry.ts";
import { type ChannelEvent, encodeChannelEvent } from "../channel-event.ts";
import { EndOfTurn } from "../end-of-turn.ts";
import { type HubMetrics, NO_HUB_METRICS } from "../hub-metrics.ts";
import { Run } from "../run.ts";
import { appendedText, PRESENCE_NOTICE } from "./log-notice.ts";

/**
 * What the channel reads from Redis: its stream of the log (hub.ts). Each call fails fast while
 * Redis is unreachable.
 */
export interface ChannelHistory {
  /** Up to `count` stored events with an id above `after`, oldest first. */
  after(after: number, count: number): Promise<ChannelEvent[]>;
  /** The newest id issued on the channel (0 before the first). */
  latestId(): Promise<number>;
  /** Whether the history ever dropped a message: it then no longer starts at the channel's first. */
  everTrimmed(): Promise<boolean>;
}

/** The channel's subscriber count across processes, kept in Redis (see hub.ts). */
export interface ChannelPresence {
  /** Records this process's count (0: none left) and tells the other processes. */
  report(count: number): Promise<void>;
  /** The sum of every live process's count. */
  total(): Promise<number>;
}

// Replay and gap fill read the history in pages of this many messages.
const PAGE = 100;
// Announcements held while a gap is filled or Redis is away. Past this the process stops holding
// them and reads them back from the history instead, so a long outage cannot grow memory.
const MAX_HELD = 10_000;
// How often a channel retries Redis while it cannot reach it (each try fails at once while the
// connection is down; a reconnect also retries at once).
const RETRY_MS = 500;

export class RedisChannel {
  /** Subscribers that receive each message as this process delivers it. */
  private readonly live = new Set<ChannelSink>();
  /** Subscribers still replaying history (or waiting for this process to catch up with them). */
  private readonly catchingUp = new Set<ChannelSink>();
  /** Resumed subscribers ahead of `delivered`, with the id they hold: live once it is reached. */
  private readonly ahead = new Map<ChannelSink, number>();
  /**
   * The last id handed to live subscribers (into the run, which writes it at the end of the turn);
   * undefined until read from Redis after subscribing.
   */
  private delivered: number | undefined;
  /** The messages delivered in this turn, written to every live subscriber at its end (see Run). */
  private readonly run: Run;
  private subscribed = false;
  private readonly held: ChannelEvent[] = [];
  private mustReread = false;
  private pumping = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private waitingForSync: Array<() => void> = [];
  private ended = false;
  /** Subscribers that asked for presence events. */
  private readonly watchers = new Set<ChannelSink>();
  private readonly reporting = new Coalesced(() => this.reportCount());
  private readonly refreshing = new Coalesced(() => this.sendTotal());
  private reportedCount = -1;
  private sentTotal = -1;

  constructor(
    private readonly history: ChannelHistory,
    private readonly presence: ChannelPresence,
    /** Called when the last local subscriber has left: unsubscribe and forget this channel. */
    private readonly onEmpty: (channel: RedisChannel) => void,
    private readonly metrics: HubMetrics = NO_HUB_METRICS,
    /** When runs are sent: give every channel of a hub the same one. */
    endOfTurn: EndOfTurn = new EndOfTurn(),
  ) {
    this.run = new Run(this.live, endOfTurn, metrics);
  }

  get subscribers(): number {
    return this.live.size + this.catchingUp.size;
  }

  get catchingUpCount(): number {
    return this.catchingUp.size;
  }

  /** The highest id this process knows was issued on the channel (0 if none yet). */
  get highestId(): number {
    return this.delivered ?? 0;
  }

  /** The pub/sub subscription is confirmed: from here on no announcement is missed. */
  onSubscribed(): void {
    this.subscribed = true;
    void this.pump();
  }

  /**
   * The connection to Redis came back (the client resubscribed before saying so): read what was
   * published while it was away.
   */
  onReconnected(): void {
    if (this.delivered !== undefined) this.mustReread = true;
    void this.pump();
  }

  /** A notice on the channel stream's pub/sub: an event appended (log-notice.ts), or presence. */
  onAnnounced(notice: string): void {
    if (this.ended) return;
    if (notice === PRESENCE_NOTICE) {
      if (this.watchers.size > 0) this.refreshing.soon();
      return;
    }
    const json = appendedText(notice);
    // Any other change of the stream is none of the channel's events.
    if (json === undefined) return;
    const event = decodeStored(json);
    if (!this.pumping && this.held.length === 0 && this.delivered !== undefined && event.id === this.delivered + 1) {
      this.deliver(event);
      return;
    }
    if (this.held.length >= MAX_HELD) {
      this.held.length = 0;
      if (this.delivered !== undefined) this.mustReread = true;
    }
    this.held.push(event);
    void this.pump();
  }

  /** The source of a subscriber without Last-Event-ID: live messages from now on. */
  readonly joinLive = (sink: ChannelSink) => {
    this.goLive(sink, this.delivered ?? 0);
    this.reporting.soon();
    return this.leave;
  };

  /** The same, with presence events. */
  readonly joinLiveWithPresence = (sink: ChannelSink) => {
    this.watch(sink);
    return this.joinLive(sink);
  };

  /** The source of a subscriber that resumes after `after`: replay, then live. */
  replayThenJoin(after: number, presence = false) {
    return (sink: ChannelSink) => {
      this.catchingUp.add(sink);
      if (presence) this.watch(sink);
      this.reporting.soon();
      this.catchUp(sink, after);
      return this.leave;
    };
  }

  /** Refreshes this process's count in Redis, which expires it unless refreshed (a crashed process). */
  heartbeat(): void {
    this.reportedCount = -1;
    this.reporting.soon();
  }

  /** Stops everything (the hub is closing, or the channel has no subscriber left). */
  end(): void {
    this.ended = true;
    // What was delivered is written now, as it was announced before the end.
    this.run.send();
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.reporting.cancel();
    this.refreshing.cancel();
  }

  private watch(sink: ChannelSink): void {
    this.watchers.add(sink);
    // A new watcher gets the count even if it did not change.
    this.sentTotal = -1;
    this.refreshing.soon();
  }

  private async reportCount(): Promise<void> {
    const count = this.subscribers;
    if (count === this.reportedCount || this.ended) return;
    try {
      await this.presence.report(count);
      this.reportedCount = count;
    } catch {
      // Redis is away: the next change, or the heartbeat, reports again.
    }
  }

  private async sendTotal(): Promise<void> {
    if (this.watchers.size === 0 || this.ended) return;
    let total: number;
    try {
      total = await this.presence.total();
    } catch {
      return;
    }
    if (total === this.sentTotal) return;
    this.sentTotal = total;
    const bytes = encodeEvent({ event: PRESENCE_EVENT, data: JSON.stringify({ subscribers: total }) });
    // A count is only a snapshot and the next one replaces it: a client with no room skips it.
    for (const sink of this.watchers) if (sink.fits(bytes)) sink.write(bytes);
  }

  /**
   * Resolves once this process knows where the channel stands (subscribed, and the latest id read),
   * or after `timeoutMs` if Redis cannot be reached: a stream then opens anyway and catches up later.
   */
  whenSynced(timeoutMs: number): Promise<void> {
    if (this.delivered !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waitingForSync.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Let go of the channel if no subscriber is left (also for a stream that never started). */
  readonly release = () => {
    if (this.subscribers === 0) this.onEmpty(this);
  };

  private readonly leave = (sink: ChannelSink) => {
    sink.onPull = undefined;
    this.live.delete(sink);
    this.run.left(sink);
    this.catchingUp.delete(sink);
    this.ahead.delete(sink);
    this.watchers.delete(sink);
    this.reporting.soon();
    this.release();
  };

  /** Hands one event to every live subscriber, in this turn's run. */
  private deliver(event: ChannelEvent): void {
    const { id } = event;
    // Those waiting for an earlier id get this one (a gap skipped theirs); those waiting for this
    // one hold it already and go live after it.
    if (this.ahead.size > 0) this.admitAhead(id - 1);
    this.run.add(event);
    this.delivered = id;
    if (this.ahead.size > 0) this.admitAhead(id);
  }

  /** Moves the subscribers parked ahead that hold no more than `upTo` to the live set. */
  private admitAhead(upTo: number): void {
    for (const [sink, holds] of this.ahead) {
      if (holds > upTo) continue;
      this.ahead.delete(sink);
      this.catchingUp.delete(sink);
      this.goLive(sink, holds);
    }
  }

  /**
   * Adds a subscriber that holds every id up to `holds` to the live set: of a pending run (ids up to
   * `delivered`) it gets only the part after `holds`.
   */
  private goLive(sink: ChannelSink, holds: number): void {
    this.live.add(sink);
    this.run.joined(sink, holds);
  }

  /** Delivers a message that may not follow `delivered`: ids in between are no longer stored. */
  private deliverAfterGap(message: ChannelEvent): void {
    const delivered = this.delivered ?? 0;
    // Before the first message there is nothing a live subscriber could have missed.
    if (delivered > 0 && message.id > delivered + 1) {
      const notice = encodeEvent({
        event: HISTORY_TRUNCATED_EVENT,
        data: JSON.stringify({ lastEventId: delivered, oldestId: message.id }),
      });
      // After the messages before the gap, which may still wait in the run.
      this.run.send();
      for (const sink of this.live) sink.write(notice);
    }
    this.deliver(message);
  }

  /**
   * The one loop that reads Redis on behalf of live subscribers: first sync, re-reads after a
   * reconnect, and gap fills. One at a time per channel, so deliveries stay in order.
   */
  private async pump(): Promise<void> {
    if (this.pumping || this.ended || !this.subscribed) return;
    this.pumping = true;
    try {
      while (!this.ended) {
        if (this.delivered === undefined) {
          this.delivered = await this.history.latestId();
          for (const resolve of this.waitingForSync.splice(0)) resolve();
          continue;
        }
        if (this.mustReread) {
          this.mustReread = false;
          await this.readAfterDelivered(undefined);
          continue;
        }
        const next = this.held.shift();
        if (next === undefined) break;
        if (next.id <= this.delivered) continue;
        if (next.id > this.delivered + 1) await this.readAfterDelivered(next.id);
        if (next.id > (this.delivered as number)) this.deliverAfterGap(next);
      }
    } catch {
      // Redis is unreachable. What was announced is stored there: read it again once it answers.
      if (this.delivered !== undefined) this.mustReread = true;
      if (!this.ended && this.retry === undefined) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          void this.pump();
        }, RETRY_MS);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Delivers the stored messages after `delivered` and below `before` (or all of them): the
   * announcements this process missed. Counted as a gap fill when there were any.
   */
  private async readAfterDelivered(before: number | undefined): Promise<void> {
    let filled = 0;
    try {
      for (;;) {
        const page = await this.history.after(this.delivered as number, PAGE);
        if (this.ended) return;
        for (const message of page) {
          if (before !== undefined && message.id >= before) return;
          if (message.id > (this.delivered as number)) {
            this.deliverAfterGap(message);
            filled++;
          }
        }
        if (page.length < PAGE) return;
      }
    } finally {
      if (filled > 0) this.metrics.gapFilled(filled);
    }
  }

  private synced(): Promise<void> {
    if (this.delivered !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waitingForSync.push(resolve));
  }

  /**
   * Replays the history after `cursor` to one subscriber, as fast as it reads, then joins it to
   * the live set. Replay reads are awaited; the check that the replay has reached `delivered` and
   * the join are one synchronous step, so no delivery can fall between them.
   */
  private catchUp(sink: ChannelSink, cursor: number): void {
    let running = false;
    const step = async () => {
      if (running) return;
      running = true;
      try {
        await this.synced();
        while (!sink.closed) {
          const delivered = this.delivered as number;
          if (cursor >= delivered) {
            this.joinFrom(sink, cursor);
            return;
          }
          const page = await this.history.after(cursor, PAGE);
          if (sink.closed) return;
          const first = page[0];
          if (first === undefined) {
            // Nothing stored after the cursor, yet ids up to `delivered` were issued: trimmed.
            this.joinFrom(sink, this.delivered as number);
            return;
          }
          // Ids jump where the clock seeds them (the first message, a lost counter), so after 0 (a
          // multi-channel stream's cursor of a channel that had no message yet) only a history that
          // dropped messages is truncated.
          if (first.id > cursor + 1 && (cursor > 0 || (await this.history.everTrimmed()))) {
            if (sink.closed) return;
            sink.send({
              event: HISTORY_TRUNCATED_EVENT,
              data: JSON.stringify({ lastEventId: cursor, oldestId: first.id }),
            });
          }
          for (const message of page) {
            // Stored but not yet delivered here: it comes live, once this subscriber has joined.
            if (message.id > (this.delivered as number)) {
              this.joinFrom(sink, message.id - 1);
              return;
            }
            const bytes = encodeChannelEvent(message);
            if (!sink.fits(bytes)) {
              // Resume when the client has read some.
              sink.onPull = () => {
                sink.onPull = undefined;
                void step();
              };
              return;
            }
            if (sink.take === undefined ? sink.write(bytes) : sink.take([message])) this.metrics.delivered(1);
            cursor = message.id;
          }
        }
      } catch {
        // Redis is unreachable: the subscriber stays connected and the replay goes on later.
        if (!sink.closed) setTimeout(() => void step(), RETRY_MS);
      } finally {
        running = false;
      }
    };
    void step();
  }

  /** Joins a subscriber that holds every id up to `holds` to the live set, or parks it until then. */
  private joinFrom(sink: ChannelSink, holds: number): void {
    if (sink.closed) return;
    sink.onPull = undefined;
    if (holds > (this.delivered as number)) {
      this.ahead.set(sink, holds);
      return;
    }
    this.catchingUp.delete(sink);
    this.goLive(sink, holds);
  }
}

/**
 * Runs `task` soon, at most once per PRESENCE_INTERVAL_MS however often it is asked for: a burst of
 * joins and leaves costs one report, and one read of the total.
 */
class Coalesced {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRun = 0;

  constructor(private readonly task: () => Promise<void>) {}

  soon(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastRun + PRESENCE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastRun = Date.now();
      void this.task();
    }, wait);
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
