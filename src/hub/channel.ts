/**
 * One channel's subscribers and history, the same code in the in-process hub and inside the
 * channel's Durable Object. See docs/architecture.md ("Fan-out", "Resume", "Backpressure").
 */

import {
  type CloseReason,
  type EventSink,
  encodeEvent,
  eventStream,
  type OpenStreams,
  type StreamDeadline,
} from "../sse/index.ts";
import { type ChannelEvent, draftOf, encodeChannelEvent, type Publication, type Published } from "./channel-event.ts";
import { EndOfTurn } from "./end-of-turn.ts";
import { type HubMetrics, NO_HUB_METRICS } from "./hub-metrics.ts";
import { Run } from "./run.ts";
import type { EventStore } from "./store.ts";

/** How each subscriber's stream behaves (see `EventStreamOptions`). */
export interface StreamSettings {
  retry: number;
  keepAliveMs: number;
  /** See `EventStreamOptions.departureProbeMs`. */
  departureProbeMs?: number;
  maxBufferedBytes: number;
  maxBufferedEvents: number;
}

export interface ChannelStats {
  subscribers: number;
  /** Subscribers still being sent history before they go live. */
  catchingUp: number;
  /** The newest message id (0 before the first message). */
  latestId: number;
  /** The oldest message still retained for replay, or null. */
  oldestId: number | null;
}

export interface StreamRequest {
  /** Replay what came after this id first (from Last-Event-ID); undefined means live only. */
  after: number | undefined;
  /** The request's signal, the only notice of a departed client on workerd. */
  signal?: AbortSignal | undefined;
  onClose?: (reason: CloseReason) => void;
  /** Where the stream is counted and capped, and ended at shutdown (see OpenStreams). */
  openStreams?: OpenStreams;
  /** The client's address, where known: streams per client are capped by it. */
  client?: string | undefined;
  /** Also send this client `presence` events: the channel's subscriber count as it changes. */
  presence?: boolean | undefined;
  /** The channel's name, for logs about the stream. */
  channel?: string | undefined;
  /** Ends the stream then, with its event: the token's expiry (see `EventStreamOptions.endsAt`). */
  endsAt?: StreamDeadline | undefined;
  /** One channel of a multi-channel stream: no keep-alives of its own (see `StreamOptions.part`). */
  part?: boolean | undefined;
}

/**
 * What a channel writes to: a client's own stream (an `EventSink`), or a `ChannelSubscriber`.
 * Messages go to `take` where there is one, else as bytes to `write`; notices (`presence`,
 * `history-truncated`) always go as bytes or through `send`.
 */
export type ChannelSink = Pick<EventSink, "closed" | "onPull" | "write" | "fits" | "send"> & {
  take?(events: readonly ChannelEvent[]): boolean;
};

/**
 * A follower of a channel that takes its messages as they are, not encoded for one client: a
 * multi-channel stream's channel (see `Hub.subscribe`, channel-set.ts). A replay asks `fits` with
 * the message's single-stream bytes before each `take`, and waits for `onPull` when it does not fit.
 */
export interface ChannelSubscriber extends ChannelSink {
  /** Messages in order, the same objects for every subscriber. False once it has ended. */
  take(events: readonly ChannelEvent[]): boolean;
}

/** The event sent before a replay that cannot start where the client asked: history was trimmed. */
export const HISTORY_TRUNCATED_EVENT = "history-truncated";

/**
 * The event that tells a subscriber who asked for it (`presence: true`) how many subscribers the
 * channel has: `event: presence`, `data: {"subscribers":N}`, no id (so a client's Last-Event-ID
 * stays that of the last message). Sent after subscribers join or leave, at most once per
 * PRESENCE_INTERVAL_MS, encoded once for all: a channel with many subscribers coming and going
 * costs one event per interval per watcher, and nobody polls.
 */
export const PRESENCE_EVENT = "presence";
export const PRESENCE_INTERVAL_MS = 1000;

/** What a channel's stream inside a multi-channel stream does differently: the outer one keeps alive. */
export const PART_SETTINGS = { keepAliveMs: 0 } as const;

// Replay reads history in pages of this many messages, so a long replay never holds a big array.
const REPLAY_PAGE = 64;

export class Channel {
  /** Subscribers that have caught up and receive each publish as it happens. */
  private readonly live = new Set<ChannelSink>();
  /** Subscribers still being sent history; they join `live` when it is done. */
  private readonly catchingUp = new Set<ChannelSink>();
  /** Subscribers (in `live` or `catchingUp`) that asked for presence events. */
  private readonly presence = new Set<ChannelSink>();
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private presenceSentAt = 0;
  /** What this turn published, sent to every live subscriber at its end (see Run). */
  private readonly run: Run;

  constructor(
    private readonly store: EventStore,
    private readonly streams: StreamSettings,
    /** Called when the last subscriber leaves a channel that holds no message. */
    private readonly onEmpty?: () => void,
    /** Counts deliveries: one call per publish and per replayed message, none per subscriber. */
    private readonly metrics: HubMetrics = NO_HUB_METRICS,
    /** When runs are sent: give every channel of a hub the same one. */
    endOfTurn: EndOfTurn = new EndOfTurn(),
  ) {
    this.run = new Run(this.live, endOfTurn, metrics);
  }

  /**
   * Stores the event and adds it to this turn's run, which every live subscriber gets at the end
   * of the turn: the same encoded bytes for all. A publication whose idempotency key was used
   * before sends nothing and answers the first event.
   */
  publish(publication: Publication): Published {
    const published = this.store.append(draftOf(publication), new Date().toISOString(), publication.idempotencyKey);
    if (published.replayed) return published;
    this.run.add(published.event);
    return published;
  }

  list(after: number, limit: number): ChannelEvent[] {
    return this.store.after(after, limit);
  }

  /** The SSE response for one subscriber: replay after `after`, then live messages. */
  stream(request: StreamRequest): Response {
    const presence = request.presence === true;
    const source =
      request.after !== undefined
        ? this.replayThenJoin(request.after, presence)
        : presence
          ? this.joinLiveWithPresence
          : this.joinLive;
    return eventStream(source, {
      ...this.streams,
      ...(request.part ? PART_SETTINGS : {}),
      signal: request.signal,
      onClose: request.onClose,
      openStreams: request.openStreams,
      client: request.client,
      kind: "feed",
      channel: request.channel,
      endsAt: request.endsAt,
    });
  }

  /**
   * Follows the channel for a subscriber of its own (see `Hub.subscribe`): what `stream` sends, as
   * events. Returns the function that stops it.
   */
  subscribe(subscriber: ChannelSubscriber, after: number | undefined, presence: boolean): () => void {
    const source =
      after !== undefined ? this.replayThenJoin(after, presence) : presence ? this.joinLiveWithPresence : this.joinLive;
    source(subscriber);
    return () => this.leave(subscriber);
  }

  stats(): ChannelStats {
    return {
      subscribers: this.live.size + this.catchingUp.size,
      catchingUp: this.catchingUp.size,
      latestId: this.store.latestId(),
      oldestId: this.store.oldestId() ?? null,
    };
  }

  // Shared by every subscriber (the sink is their argument): a channel with thousands of live
  // subscribers holds no closure per subscriber.
  private readonly joinLive = (sink: ChannelSink) => {
    this.goLive(sink);
    this.subscribersChanged();
    return this.leave;
  };

  private readonly joinLiveWithPresence = (sink: ChannelSink) => {
    this.presence.add(sink);
    return this.joinLive(sink);
  };

  /**
   * Adds a subscriber that has every message stored so far (replayed, or published before it came)
   * to `live`; in the middle of a run, it will get only the rest of the run.
   */
  private goLive(sink: ChannelSink): void {
    this.live.add(sink);
    this.run.joined(sink, this.store.latestId());
  }

  private readonly leave = (sink: ChannelSink) => {
    sink.onPull = undefined;
    this.catchingUp.delete(sink);
    this.live.delete(sink);
    this.run.left(sink);
    this.presence.delete(sink);
    this.subscribersChanged();
    if (this.live.size + this.catchingUp.size === 0 && this.store.oldestId() === undefined) this.onEmpty?.();
  };

  private replayThenJoin(after: number, presence: boolean) {
    return (sink: ChannelSink) => {
      this.catchingUp.add(sink);
      if (presence) this.presence.add(sink);
      this.subscribersChanged();
      this.catchUp(sink, after);
      return this.leave;
    };
  }

  /**
   * Schedules one presence event for everyone watching: at once (after the current burst of joins
   * and leaves) if none went out in the last interval, else when the interval is up. A new watcher
   * gets its first count this way too, at most one interval after it joined.
   */
  private subscribersChanged(): void {
    if (this.presence.size === 0) {
      if (this.presenceTimer !== undefined) clearTimeout(this.presenceTimer);
      this.presenceTimer = undefined;
      return;
    }
    if (this.presenceTimer !== undefined) return;
    const wait = Math.max(0, this.presenceSentAt + PRESENCE_INTERVAL_MS - Date.now());
    this.presenceTimer = setTimeout(this.sendPresence, wait);
  }

  private readonly sendPresence = () => {
    this.presenceTimer = undefined;
    if (this.presence.size === 0) return;
    this.presenceSentAt = Date.now();
    const bytes = encodeEvent({
      event: PRESENCE_EVENT,
      data: JSON.stringify({ subscribers: this.live.size + this.catchingUp.size }),
    });
    // A count is only a snapshot and the next one replaces it: a client with no room for it
    // skips it rather than being dropped as too slow.
    for (const sink of this.presence) if (sink.fits(bytes)) sink.write(bytes);
  };

  /**
   * Replays history after `cursor`, as fast as the client reads, then joins `live`. Everything
   * here is synchronous (the store answers at once), so no publish can fall between the last
   * replayed message and joining: nothing is missed or sent twice. While the client is still
   * catching up it is not in `live`; what is published meanwhile is in the store, and the
   * replay reaches it.
   */
  private catchUp(sink: ChannelSink, cursor: number): void {
    const step = () => {
      while (!sink.closed) {
        // An empty store still knows where its ids start: a cursor from before them (one a
        // restarted in-memory hub's clients bring back) missed what it cannot have, and is told.
        // 0 is "I have nothing": on an empty channel there is nothing it missed that we know of.
        const oldest = this.store.oldestId() ?? (cursor > 0 ? this.store.latestId() + 1 : undefined);
        if (oldest !== undefined && cursor < oldest - 1) {
          sink.send({
            event: HISTORY_TRUNCATED_EVENT,
            data: JSON.stringify({ lastEventId: cursor, oldestId: oldest }),
          });
          cursor = oldest - 1;
        }
        const page = this.store.after(cursor, REPLAY_PAGE);
        if (page.length === 0) {
          sink.onPull = undefined;
          this.catchingUp.delete(sink);
          this.goLive(sink);
          return;
        }
        for (const event of page) {
          const bytes = encodeChannelEvent(event);
          if (!sink.fits(bytes)) {
            sink.onPull = step; // resume when the client has read some
            return;
          }
          if (sink.take === undefined ? sink.write(bytes) : sink.take([event])) this.metrics.delivered(1);
          cursor = event.id;
        }
      }
    };
    step();
  }
}
