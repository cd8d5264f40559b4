/**
 * The hub: named channels of events (any JSON value, an optional event name), and the streams that
 * follow them. Routes talk only to
 * this interface, so the backend can change (in-process, Durable Objects, a shared store for
 * several processes) without touching them.
 */
import type { StreamDeadline } from "../sse/index.ts";
import type { ChannelStats, ChannelSubscriber } from "./channel.ts";
import type { ChannelEvent, Publication, Published } from "./channel-event.ts";

export interface StreamOptions {
  /** Replay what came after this id first (from Last-Event-ID); undefined means live only. */
  after: number | undefined;
  /** The client's request. */
  request: Request;
  /**
   * Ends the stream when it aborts: the only notice of a departed client on workerd. Undefined
   * where the runtime cancels the body instead (Node, Bun, Deno).
   */
  signal: AbortSignal | undefined;
  /** The client's address, where known: streams per client are capped by it. */
  client?: string | undefined;
  /**
   * Also send `event: presence` with `data: {"subscribers":N}` (the channel's subscriber count) when
   * subscribers join or leave, at most about once a second (see PRESENCE_EVENT in channel.ts). Off
   * unless asked for, so other clients' streams do not change.
   */
  presence?: boolean | undefined;
  /** Ends the stream then, with its event (see `EventStreamOptions.endsAt`): the token's expiry. */
  endsAt?: StreamDeadline | undefined;
  /**
   * One channel of a multi-channel stream (see channel-set.ts), taken over by that stream: the outer
   * stream is counted, capped, kept alive, ended at shutdown and told of the client's departure, so
   * this one is not counted in the process's streams, sends no keep-alives and gets no signal. On Workers each channel's object still counts it
   * against its caps, as it counts every subscriber of that channel.
   */
  part?: boolean | undefined;
}

export interface Hub {
  /**
   * Stores the event and sends it to the channel's subscribers. With an idempotency key the channel
   * has seen within IDEMPOTENCY_KEY_TTL_SECONDS, stores and sends nothing and answers the first
   * event, `replayed`: atomically, so concurrent publications with one key store one event.
   */
  publish(channel: string, publication: Publication): Promise<Published>;
  /** Retained events with an id above `after`, oldest first. */
  list(channel: string, after: number, limit: number): Promise<ChannelEvent[]>;
  /** The SSE response that follows `channel` for one client. */
  stream(channel: string, options: StreamOptions): Promise<Response>;
  /**
   * Follows `channel` for a subscriber that is not a client's stream of its own (a multi-channel
   * stream's channel, see channel-set.ts): the same replay after `after`, then live, as `stream`, but
   * the events are handed over as they are (`ChannelSubscriber.take`), the same objects for every
   * subscriber, instead of encoded for one client. Resolves once the subscription could start; nothing
   * is sent before `start`. Hubs whose subscribers live elsewhere (Durable Objects) leave it out: a
   * multi-channel stream then composes their `stream`s.
   */
  subscribe?(channel: string, options: SubscribeOptions): Promise<Subscription>;
  channelStats(channel: string): Promise<ChannelStats>;
  /** Stats of the channels this hub instance knows (for Durable Objects: those it has used). */
  stats(): Promise<Record<string, ChannelStats>>;
  /**
   * Whether the hub's backend (a Redis server, say) is reachable, for `/readyz`. Hubs that keep
   * everything in this process or platform (memory, Durable Objects) leave it out: always ready.
   */
  backendStatus?(): BackendStatus;
  /** Lets go of the backend's connections (shutdown, tests). */
  close?(): Promise<void>;
}

export interface SubscribeOptions {
  /** Replay what came after this id first; undefined means live only. */
  after: number | undefined;
  /** Also send the channel's subscriber count as it changes (see `StreamOptions.presence`). */
  presence?: boolean | undefined;
  /** The client's address, where known. */
  client?: string | undefined;
}

/** One channel followed for a `ChannelSubscriber` (see `Hub.subscribe`). */
export interface Subscription {
  /** Starts the replay, then live events, into `subscriber`. Once. */
  start(subscriber: ChannelSubscriber): void;
  /** Stops following, started or not. Idempotent. */
  stop(): void;
  /**
   * Read at each delivery: true when what is handed over now may go out in one task with more (the
   * memory and Redis hubs: several channels' runs going out together at the end of a turn, EndOfTurn,
   * or a replay), so that a subscriber of several channels gains by gathering it into one write at the
   * end of the task; false when nothing else comes in this task (one channel's run going out alone, a
   * hub without runs): each delivery is then best written at once.
   */
  readonly gathers?: boolean;
}

export interface BackendStatus {
  /** What the backend is, as operators know it: "redis". */
  backend: string;
  connected: boolean;
}

export type { ChannelEvent, ChannelStats, ChannelSubscriber, Publication, Published };
