/**
 * One channel's subscribers and history, the same code in the in-process hub and inside the
 * channel's Durable Object. See docs/architecture.md ("Fan-out", "Resume", "Backpressure").
 */
import { type CloseReason, type EventSink, type EventSource, eventStream, type OpenStreams } from "../sse/index.ts";
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
  /** The channel's name, for logs about the stream. */
  channel?: string | undefined;
}

/** The event sent before a replay that cannot start where the client asked: history was trimmed. */
export const HISTORY_TRUNCATED_EVENT = "history-truncated";

// Replay reads history in pages of this many messages, so a long replay never holds a big array.
const REPLAY_PAGE = 64;

export class Channel {
  /** Subscribers that have caught up and receive each publish as it happens. */
  private readonly live = new Set<EventSink>();
  /** Subscribers still being sent history; they join `live` when it is done. */
  private readonly catchingUp = new Set<EventSink>();

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
    const source = request.after === undefined ? this.joinLive : this.replayThenJoin(request.after);
    return eventStream(source, {
      ...this.streams,
      signal: request.signal,
      onClose: request.onClose,
      openStreams: request.openStreams,
      client: request.client,
      kind: "feed",
      channel: request.channel,
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
    return this.leave;
  };

  private readonly leave = (sink: EventSink) => {
    sink.onPull = undefined;
    this.catchingUp.delete(sink);
    this.live.delete(sink);
    if (this.live.size + this.catchingUp.size === 0 && this.store.oldestId() === undefined) this.onEmpty?.();
  };

  private replayThenJoin(after: number): EventSource {
    return (sink) => {
      this.catchingUp.add(sink);
      this.catchUp(sink, after);
      return this.leave;
    };
  }

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
