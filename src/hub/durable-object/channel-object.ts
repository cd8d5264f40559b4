/**
 * A channel on Cloudflare Workers: one Durable Object per channel numbers and stores its messages
 * and sends each one to its subscribers, encoded once. Its history is the channel's stream of the
 * log (`channels/<name>`, channel-log.ts) in the object's SQLite storage, the schema a durable
 * stream's object has (stream-store.ts); the Worker's Durable Streams log reads and watches it here
 * as it does a `StreamObject` (durable-object-log.ts), so /v1/stream/channels/<name> serves it.
 * A subscriber is a WebSocket from the Worker request that holds the client's SSE stream,
 * accepted with the Hibernation API (`ctx.acceptWebSocket`): between publishes the object holds no
 * open request, so Cloudflare can evict it from memory and bills it no duration. All it needs after
 * waking is in its storage and on the sockets (their tags and attachments); nothing here lives only
 * in memory.
 *
 * Past `shardSubscribers` sockets, new subscribers go to shard objects of the channel
 * (channel-shard.ts): this object hands each message to every shard once, and they fan out.
 * The channel's stream's watchers (stream-watchers.ts) are hibernatable sockets too, apart from the
 * subscribers by their tag. See docs/architecture.md ("Workers").
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, readConfig } from "../../config.ts";
import type { StreamCap } from "../../sse/index.ts";
import { type ChannelStats, PRESENCE_INTERVAL_MS } from "../channel.ts";
import { channelEntryOf } from "../channel-entry.ts";
import { type ChannelEvent, draftOf, encodeChannelEvent, type Publication, type Published } from "../channel-event.ts";
import { ChannelLog } from "../channel-log.ts";
import type { LogChange, ReadResult, StreamLookup } from "../log.ts";
import type { ReadPosition, StreamRecord } from "../stream-rules.ts";
import { migrateChannelHistory } from "./channel-history-migration.ts";
import type { ChannelShard } from "./channel-shard.ts";
import { encodeFrame } from "./frame.ts";
import {
  AFTER_HEADER,
  CLIENT_HEADER,
  LATEST_HEADER,
  LIVE_NOTICE,
  PRESENCE_HEADER,
  PREVIOUS_SHARD_HEADER,
  REFUSED_HEADER,
  SHARD_HEADER,
  SUBSCRIBER_TAG,
  type SubscriberAttachment,
  shardName,
  socketTags,
} from "./protocol.ts";
import { RecentEvents } from "./recent-events.ts";
import { type ClientCounts, ShardLoad } from "./shard-load.ts";
import { ShardOutbox } from "./shard-outbox.ts";
import { isCatchingUp, SocketCounts, sendPresence } from "./socket-counts.ts";
import { SocketFanOut } from "./socket-fan-out.ts";
import { SqlStreamStore } from "./stream-store.ts";
import { StreamWatchers, WATCH_HEADER } from "./stream-watchers.ts";

// A run of messages is sent at once when it reaches this size, instead of at the end of the turn.
const FRAME_BYTES = 16 * 1024;
// How long a fresh instance waits for a shard's counts before it keeps that shard's stored row.
const RECOUNT_TIMEOUT_MS = 5_000;

const utf8 = new TextEncoder();

export interface ChannelEnv {
  CHANNEL_SHARDS: DurableObjectNamespace<ChannelShard>;
  [setting: string]: unknown;
}

/** A page of history for a subscriber that catches up: the messages' SSE bytes, oldest first. */
export interface HistoryPage {
  /** The oldest retained id (null when nothing is retained): older ones were trimmed. */
  oldestId: number | null;
  events: Uint8Array[];
}

export class ChannelObject extends DurableObject<ChannelEnv> {
  private readonly config: Config;
  /** The channel's stream: its record and entries, as the Durable Streams log reads them. */
  private readonly stream: SqlStreamStore;
  /** The channel's events over that stream. */
  private readonly store: ChannelLog;
  private readonly watchers: StreamWatchers;
  /** The newest events' SSE bytes, for replay pages. */
  private readonly recent: RecentEvents;
  private readonly load: ShardLoad;
  private readonly sockets: SocketCounts;
  private readonly fanOut: SocketFanOut;
  // Kept, not made per publish: calls through one stub arrive in the order they were made.
  private readonly shards = new Map<number, ShardOutbox>();
  // Messages stored but not sent yet: published in this turn of the event loop (see frame.ts).
  private unsent: Uint8Array[] = [];
  private unsentEvents: ChannelEvent[] = [];
  private unsentBytes = 0;
  private unsentLastId = 0;
  private sendTimer: ReturnType<typeof setTimeout> | undefined;
  // Presence: the last count sent and when, and the timer of the next (coalesced to one a second).
  private presenceSent = "";
  private presenceSentAt = 0;
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: ChannelEnv) {
    super(ctx, env);
    this.config = readConfig(env);
    this.stream = new SqlStreamStore(ctx.storage);
    // Before any request: the constructor runs to its end before the object takes one.
    migrateChannelHistory(ctx.storage, this.stream, this.config.historyLimit);
    this.store = new ChannelLog(this.stream, this.config.historyLimit, {
      idempotencyKeyTtlSeconds: this.config.idempotencyKeyTtlSeconds,
    });
    this.watchers = new StreamWatchers(ctx);
    this.recent = new RecentEvents(this.config.historyLimit);
    this.load = new ShardLoad(ctx.storage.sql);
    this.sockets = new SocketCounts(ctx);
    this.fanOut = new SocketFanOut(() => ctx.getWebSockets(SUBSCRIBER_TAG));
    // The stored shard rows may be stale: a restart (a crash, a deploy, `wrangler dev` again over
    // its persisted state) ended every socket they counted, and a shard's lost report leaves its
    // row behind. Ghosts would count against the caps and presence for good: a fresh instance asks
    // its shards first. After hibernation the rows are right, and the asking costs one call per
    // shard, as a publish does.
    if (this.load.total() > 0) void ctx.blockConcurrencyWhile(() => this.recountShards());
  }

  /** Rewrites each shard's row with the shard's own counts (one that does not answer keeps its row). */
  private async recountShards(): Promise<void> {
    await Promise.all(
      this.load.activeShards().map(async (shard) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${RECOUNT_TIMEOUT_MS} ms`)), RECOUNT_TIMEOUT_MS);
        });
        try {
          const { subscribers, clients } = await Promise.race([this.shard(shard).counts(), timedOut]);
          this.load.report(shard, subscribers, clients, true);
        } catch (error) {
          console.error(`edge-sse: shard ${shard} could not be recounted; its stored count stays`, error);
        } finally {
          if (timer !== undefined) clearTimeout(timer);
        }
      }),
    );
  }

  /**
   * A subscriber's WebSocket upgrade. Answers 101 (it is accepted here), 204 with the shard to
   * connect to instead (this object is full), or 503 naming the cap that refused it. Every answer
   * carries the newest id: what the subscriber may have missed until its socket is open. A shard's
   * place is reserved in the same step, so every message after that id goes to the shard too.
   */
  override fetch(request: Request): Response {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    // The Durable Streams log watching the channel's stream: not a subscriber, counted nowhere.
    if (request.headers.has(WATCH_HEADER)) return this.watchers.accept(this.streamNow());
    const client = request.headers.get(CLIENT_HEADER) ?? undefined;
    const latest = { [LATEST_HEADER]: String(this.store.latestId()) };
    // A subscriber whose socket dropped (this object restarted) had its place: it keeps it.
    if (request.headers.get(PREVIOUS_SHARD_HEADER) === null) {
      const refused = this.refusal(client);
      if (refused !== undefined) return new Response(null, { status: 503, headers: { [REFUSED_HEADER]: refused } });
      if (this.sockets.total >= this.config.shardSubscribers) {
        const shard = this.load.reserve(this.config.shardSubscribers, client);
        return new Response(null, { status: 204, headers: { ...latest, [SHARD_HEADER]: String(shard) } });
      }
    }
    const after = request.headers.get(AFTER_HEADER);
    const latestId = this.store.latestId();
    const attachment: SubscriberAttachment = { live: after === null || Number(after) >= latestId };
    const [socket, accepted] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.sockets.adding(client, !attachment.live);
    // Tagged with the client's address, so its counts can be rebuilt after the object wakes.
    const presence = request.headers.has(PRESENCE_HEADER);
    this.ctx.acceptWebSocket(accepted, socketTags(client, presence));
    accepted.serializeAttachment(attachment);
    this.fanOut.joined(accepted, latestId);
    // A new watcher gets the count even if it did not change.
    if (presence) this.presenceSent = "";
    this.subscribersChanged();
    return new Response(null, { status: 101, webSocket: socket, headers: latest });
  }

  /**
   * Stores the event, then sends it with any others published in the same turn of the event loop
   * as one frame (encoded once) to every subscriber here and to every shard once. A publication
   * whose idempotency key was used before sends nothing and answers the first event: the check and
   * the insert are one synchronous step, so concurrent retries store one event.
   */
  publish(publication: Publication): Published {
    const published = this.store.append(draftOf(publication), new Date().toISOString(), publication.idempotencyKey);
    if (published.replayed) return published;
    const bytes = encodeChannelEvent(published.event);
    this.recent.published(published.event.id, bytes);
    this.unsent.push(bytes);
    this.unsentEvents.push(published.event);
    this.unsentBytes += bytes.byteLength;
    this.unsentLastId = published.event.id;
    if (this.unsentBytes >= FRAME_BYTES) this.send();
    else this.sendTimer ??= setTimeout(this.send, 0);
    return published;
  }

  private readonly send = (): void => {
    if (this.sendTimer !== undefined) clearTimeout(this.sendTimer);
    this.sendTimer = undefined;
    if (this.unsent.length === 0) return;
    const frame = encodeFrame(this.unsent, this.unsentLastId);
    const events = this.unsentEvents;
    this.unsent = [];
    this.unsentEvents = [];
    this.unsentBytes = 0;
    // The stream's watchers get the same run as its entries; encoded only if someone watches.
    this.watchers.notify(() => ({
      kind: "appended",
      from: (events[0] as ChannelEvent).id - 1,
      entries: events.map((event) => utf8.encode(channelEntryOf(event))),
      record: this.stream.record() as StreamRecord,
    }));
    // The shards first: their own fan-outs then run beside this object's.
    for (const shard of this.load.activeShards()) this.outbox(shard).send(frame);
    this.fanOut.send(frame);
  };

  /**
   * History after `after`, for a subscriber catching up; the Worker sends `history-truncated` itself.
   * From memory when the page is among the newest events (recent-events.ts), else from storage.
   */
  history(after: number, limit: number): HistoryPage {
    const oldestId = this.store.oldestId();
    if (oldestId === undefined) return { oldestId: null, events: [] };
    // The page ChannelLog.after reads: `limit` events from the oldest kept when `after` is older.
    const from = Math.max(after + 1, oldestId);
    const latestId = this.store.latestId();
    const recent = this.recent.between(from, Math.min(from + limit - 1, latestId));
    if (recent !== undefined) return { oldestId, events: recent };
    const events = this.store.after(after, limit);
    const encoded = events.map(encodeChannelEvent);
    this.recent.read(events, encoded, latestId);
    return { oldestId, events: encoded };
  }

  list(after: number, limit: number): ChannelEvent[] {
    return this.store.after(after, limit);
  }

  /**
   * The channel's stream as the Durable Streams log reads it (StreamLog.read): entries from
   * `position` (an event's id - 1) on. Not found before the channel's first event. A channel's
   * stream never expires, so a read changes nothing.
   */
  read(position: ReadPosition, maxBytes: number): ReadResult {
    const record = this.stream.record();
    return record === undefined ? { kind: "not-found" } : this.stream.read(record, position, maxBytes);
  }

  /** The channel's stream's record (StreamLog.head). */
  head(): StreamLookup {
    const record = this.stream.record();
    return record === undefined ? { kind: "not-found" } : { kind: "found", record };
  }

  /**
   * For a fork of the channel's stream being created (stream-object.ts copies it): the entries in
   * [from, to), if the stream is still `instance` and retention has not dropped any of them since the
   * fork looked (undefined then: the fork fails as its source went, rather than copy a shifted run).
   */
  forkEntries(instance: string, from: number, to: number, maxBytes: number): Uint8Array[] | undefined {
    const record = this.stream.record();
    if (record === undefined || record.instance !== instance || from < record.head) return undefined;
    return this.stream.entries(from, to, maxBytes);
  }

  /** A fork was made: a channel's stream is never deleted, so it need not count its forks to outlive them. */
  countFork(instance: string): "counted" | "not-found" {
    return this.stream.record()?.instance === instance ? "counted" : "not-found";
  }

  releaseFork(): void {}

  async stats(): Promise<ChannelStats> {
    let subscribers = this.sockets.total;
    let catchingUp = this.sockets.catchingUp;
    // Asked, not taken from the load table: the shards' own sockets are the truth.
    const shards = await Promise.all(this.load.knownShards().map((shard) => this.shard(shard).stats()));
    for (const shard of shards) {
      subscribers += shard.subscribers;
      catchingUp += shard.catchingUp;
    }
    return { subscribers, catchingUp, latestId: this.store.latestId(), oldestId: this.store.oldestId() ?? null };
  }

  /** A shard's counts after subscribers joined or left it (see ShardLoad.report). */
  shardReport(shard: number, subscribers: number, clients: ClientCounts, complete: boolean, joined = 0): void {
    this.load.report(shard, subscribers, clients, complete, joined);
    this.subscribersChanged();
  }

  /**
   * Presence (`?presence=1`): after joins and leaves here or on a shard, the channel's count goes to
   * every subscriber that asked, here and on every shard, as the in-memory channel sends it: at most
   * once a second, encoded once. The timer keeps the object awake for that second only.
   */
  private subscribersChanged(): void {
    if (this.presenceTimer !== undefined) return;
    const wait = Math.max(0, this.presenceSentAt + PRESENCE_INTERVAL_MS - Date.now());
    this.presenceTimer = setTimeout(this.sendPresence, wait);
  }

  private readonly sendPresence = (): void => {
    this.presenceTimer = undefined;
    const count = JSON.stringify({ subscribers: this.sockets.total + this.load.total() });
    if (count === this.presenceSent) return;
    this.presenceSent = count;
    this.presenceSentAt = Date.now();
    sendPresence(this.ctx, count);
    for (const shard of this.load.activeShards()) {
      this.shard(shard)
        .presence(count)
        .catch(() => {
          // A count is a snapshot: the next one replaces it.
        });
    }
  };

  override webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): void {
    if (message !== LIVE_NOTICE || !isCatchingUp(socket)) return;
    socket.serializeAttachment({ live: true } satisfies SubscriberAttachment);
    this.sockets.caughtUp();
  }

  override webSocketClose(socket: WebSocket, code: number): void {
    if (this.watchers.isWatcher(socket)) {
      this.watchers.closed(socket, code);
      return;
    }
    this.sockets.removed();
    this.subscribersChanged();
  }

  override webSocketError(socket: WebSocket): void {
    if (this.watchers.isWatcher(socket)) return;
    this.sockets.removed();
    this.subscribersChanged();
  }

  /** What a new watcher of the channel's stream is told first: the stream as it is. */
  private streamNow(): LogChange {
    const record = this.stream.record();
    return record === undefined ? { kind: "deleted" } : { kind: "appended", from: record.tail, entries: [], record };
  }

  /** Which cap, counted over the whole channel, refuses one more subscriber from `client`. */
  private refusal(client: string | undefined): StreamCap | undefined {
    const { maxStreams, maxStreamsPerClient } = this.config;
    if (maxStreams > 0 && this.sockets.total + this.load.total() >= maxStreams) return "streams";
    if (
      client !== undefined &&
      maxStreamsPerClient > 0 &&
      this.sockets.ofClient(client) + this.load.ofClient(client) >= maxStreamsPerClient
    ) {
      return "client-streams";
    }
    return undefined;
  }

  private shard(shard: number): DurableObjectStub<ChannelShard> {
    return this.outbox(shard).stub;
  }

  private outbox(shard: number): ShardOutbox {
    let outbox = this.shards.get(shard);
    if (outbox === undefined) {
      const shards = this.env.CHANNEL_SHARDS;
      outbox = new ShardOutbox(shard, shards.get(shards.idFromName(shardName(this.ctx.id.toString(), shard))));
      this.shards.set(shard, outbox);
    }
    return outbox;
  }
}
