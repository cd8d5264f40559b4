/**
 * One channel's subscribers and history, the same code in the in-process hub and inside the
 * channel's Durable Object. See docs/architecture.md ("Fan-out", "Resume", "Backpressure").
 */
import {
  type CloseReason,
  type EventSink,
  type EventSource,
  encodeEvent,
  eventStream,
  type OpenStreams,
  type StreamDeadline,
} from "../sse/index.ts";
import { type HubMetrics, NO_HUB_METRICS } from "./hub-metrics.ts";
import { encodeMessage, type Message, type NewMessage } from "./message.ts";
import type { MessageStore } from "./store.ts";

/** How each subscriber's stream behaves (see `EventStreamOptions`). */
export interface StreamSettings {
  retry: number;
  keepAliveMs: number;
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
  private readonly live = new Set<EventSink>();
  /** Subscribers still being sent history; they join `live` when it is done. */
  private readonly catchingUp = new Set<EventSink>();
  /** Subscribers (in `live` or `catchingUp`) that asked for presence events. */
  private readonly presence = new Set<EventSink>();
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private presenceSentAt = 0;

  constructor(
    private readonly store: MessageStore,
    private readonly streams: StreamSettings,
    /** Called when the last subscriber leaves a channel that holds no message. */
    private readonly onEmpty?: () => void,
    /** Counts deliveries: one call per publish and per replayed message, none per subscriber. */
    private readonly metrics: HubMetrics = NO_HUB_METRICS,
  ) {}

  /** Stores the message, then hands the same encoded bytes to every live subscriber. */
  publish(input: NewMessage): Message {
    const message = this.store.append(input, new Date().toISOString());
    const bytes = encodeMessage(message);
    // A subscriber whose buffer overflows is closed by write() and leaves `live` during the loop,
    // which a Set allows.
    let written = 0;
    for (const sink of this.live) if (sink.write(bytes)) written++;
    this.metrics.delivered(written);
    return message;
  }

  list(after: number, limit: number): Message[] {
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
  private readonly joinLive: EventSource = (sink) => {
    this.live.add(sink);
    this.subscribersChanged();
    return this.leave;
  };

  private readonly joinLiveWithPresence: EventSource = (sink) => {
    this.presence.add(sink);
    return this.joinLive(sink);
  };

  private readonly leave = (sink: EventSink) => {
    sink.onPull = undefined;
    this.catchingUp.delete(sink);
    this.live.delete(sink);
    this.presence.delete(sink);
    this.subscribersChanged();
    if (this.live.size + this.catchingUp.size === 0 && this.store.oldestId() === undefined) this.onEmpty?.();
  };

  private replayThenJoin(after: number, presence: boolean): EventSource {
    return (sink) => {
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
  private catchUp(sink: EventSink, cursor: number): void {
    const step = () => {
      while (!sink.closed) {
        const oldest = this.store.oldestId();
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
          this.live.add(sink);
          return;
        }
        for (const message of page) {
          const bytes = encodeMessage(message);
          if (!sink.fits(bytes)) {
            sink.onPull = step; // resume when the client has read some
            return;
          }
          if (sink.write(bytes)) this.metrics.delivered(1);
          cursor = message.id;
        }
      }
    };
    step();
  }
}
