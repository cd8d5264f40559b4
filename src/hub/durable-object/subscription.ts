/**
 * One subscriber on Workers, inside the Worker request that holds its client's SSE stream: a
 * WebSocket to the channel's object (or one of its shards) in, the SSE sink out.
 *
 * The socket opens first, so live messages start arriving (held here); then what the client
 * missed is read from the object's history in pages (RPC) until the replay meets the live
 * messages. Ids are contiguous per channel, so a message is written only when its id is the next
 * one: anything already written is dropped, and a gap (a message held back by a restart, a shard
 * or a full backlog) is filled from history. That gives no gap and no duplicate with no
 * per-subscriber state in the object. If the socket drops (the object restarted, code was
 * deployed) this reconnects and resumes from the last id written; if it cannot, it ends the
 * stream with a short `retry:` so the client comes back with its Last-Event-ID.
 */
import { type EventSink, encodeEvent, encodeRetry, type StreamCap, StreamCapError } from "../../sse/index.ts";
import { HISTORY_TRUNCATED_EVENT, PRESENCE_EVENT } from "../channel.ts";
import type { ChannelObject } from "./channel-object.ts";
import type { ChannelShard } from "./channel-shard.ts";
import { eventId, eventsAfter, type Frame, readFrame } from "./frame.ts";
import {
  AFTER_HEADER,
  CATCHING_UP_HEADER,
  CHANNEL_ID_HEADER,
  CLIENT_HEADER,
  DELIVERED_HEADER,
  LATEST_HEADER,
  LIVE_NOTICE,
  PLACED_HEADER,
  PRESENCE_HEADER,
  PREVIOUS_SHARD_HEADER,
  REFUSED_HEADER,
  SHARD_HEADER,
  shardName,
} from "./protocol.ts";

/** The channel's objects, as the Worker reaches them. */
export interface ChannelObjects {
  channels: DurableObjectNamespace<ChannelObject>;
  /** The channel's object. */
  id: DurableObjectId;
  shards: DurableObjectNamespace<ChannelShard>;
}

export interface SubscriptionOptions {
  after: number | undefined;
  client: string | undefined;
  /** The `retry:` sent when the stream ends because the channel cannot be reached. */
  retryMs: number;
  /** Also send the channel's subscriber count as it changes (`event: presence`). */
  presence?: boolean | undefined;
}

// History is read in pages of this many messages, so a long replay never holds a big array.
const HISTORY_PAGE = 64;
// Live messages held while the stream has not started or is replaying; past this, the replay
// reads them from history instead.
const BACKLOG_LIMIT = 256;
// Waits before each attempt to reach the channel again after its socket dropped.
const RECONNECT_DELAYS_MS = [0, 100, 500, 1_000, 2_000];

// Only the host matters to a Durable Object's fetch; the object reads nothing from the URL.
const SUBSCRIBE_URL = "https://channel.internal/subscribe";

export class Subscription {
  private socket: WebSocket | undefined;
  /** Made again for each reconnect: a stub that saw its object reset stays broken. */
  private channel: DurableObjectStub<ChannelObject>;
  private reconnecting = false;
  /** 0: the channel's object; otherwise the shard holding this subscriber. */
  private shard = 0;
  /** The last id written to the client (or the point it resumes after). */
  private cursor = 0;
  private sink: EventSink | undefined;
  /** Set while history is read: live messages are held meanwhile. */
  private replaying = false;
  private replayFirst = false;
  private backlog: Frame[] = [];
  private backlogFull = false;
  private toldLive = false;
  private ended = false;
  private failed = false;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly objects: ChannelObjects,
    private readonly options: SubscriptionOptions,
  ) {
    this.channel = objects.channels.get(objects.id);
  }

  /** Connects to the channel (which applies its caps: `StreamCapError`) and starts holding its messages. */
  static async open(objects: ChannelObjects, options: SubscriptionOptions): Promise<Subscription> {
    const subscription = new Subscription(objects, options);
    const latest = await subscription.connect(undefined);
    const { after } = options;
    // A Last-Event-ID beyond the newest id (a channel that was reset, say) resumes at the newest.
    subscription.cursor = after === undefined ? latest : Math.min(after, latest);
    subscription.replayFirst ||= subscription.cursor < latest;
    return subscription;
  }

  /** The SSE stream has started: write what was held, replaying history first where needed. */
  attach(sink: EventSink): void {
    this.sink = sink;
    if (this.failed) this.endWithRetry();
    else void this.catchUp(this.replayFirst);
  }

  /** The stream ended (the client left, or was dropped as too slow): let the object forget it at once. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake?.();
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close(1000, "the client left");
    } catch {
      // Closed already.
    }
  }

  /** The socket's events: this object is their listener, so a subscriber needs no closure per event. */
  handleEvent(event: Event): void {
    if (event.target !== this.socket) return; // a socket replaced by a reconnect
    if (event.type === "message") {
      const data = (event as MessageEvent).data;
      if (data instanceof ArrayBuffer) this.received(readFrame(data));
      else if (typeof data === "string") this.presence(data);
      return;
    }
    // close or error: the object went away (restart, eviction with an error, deploy).
    this.socket = undefined;
    if (!this.ended) void this.reconnect();
  }

  /** The channel's count (`{"subscribers":N}`): a snapshot the next replaces, skipped if it does not fit. */
  private presence(count: string): void {
    const sink = this.sink;
    if (sink === undefined || sink.closed) return;
    const bytes = encodeEvent({ event: PRESENCE_EVENT, data: count });
    if (sink.fits(bytes)) sink.write(bytes);
  }

  private received(frame: Frame): void {
    const sink = this.sink;
    if (sink === undefined || this.replaying) {
      this.hold(frame);
      return;
    }
    if (frame.last <= this.cursor) return;
    if (frame.first <= this.cursor + 1) {
      // Too slow a client is dropped here, and resumes with its Last-Event-ID.
      this.write(sink, frame);
      return;
    }
    this.hold(frame);
    void this.catchUp(true);
  }

  /** Writes the frame's messages after the cursor (it must reach the cursor). */
  private write(sink: EventSink, frame: Frame): boolean {
    const events = frame.first > this.cursor ? frame.events : eventsAfter(frame, this.cursor);
    this.cursor = frame.last;
    return sink.write(events);
  }

  private hold(frame: Frame): void {
    if (this.backlog.length < BACKLOG_LIMIT) this.backlog.push(frame);
    else this.backlogFull = true;
  }

  /**
   * Writes what is missing: history pages after the cursor (if `fromHistory`), then the held live
   * messages; again from history whenever the held ones do not follow on. Returns with the client
   * following live messages.
   */
  private async catchUp(fromHistory: boolean): Promise<void> {
    const sink = this.sink;
    if (sink === undefined || this.replaying || this.reconnecting || this.ended) return;
    this.replaying = true;
    try {
      let readHistory = fromHistory;
      while (!sink.closed) {
        if (readHistory && !(await this.replayHistory(sink))) return;
        readHistory = !this.writeBacklog(sink);
        if (!readHistory) break;
      }
    } catch (error) {
      // The object could not be asked (it restarted meanwhile): connect again, then catch up.
      console.error("edge-sse: reading the channel's history failed; reconnecting", error);
      this.dropSocket();
      void this.reconnect();
      return;
    } finally {
      this.replaying = false;
    }
    if (!this.toldLive && !sink.closed && this.socket !== undefined) {
      this.toldLive = true;
      this.socket.send(LIVE_NOTICE);
    }
  }

  /** History after the cursor until a short page; false if the stream ended meanwhile. */
  private async replayHistory(sink: EventSink): Promise<boolean> {
    for (;;) {
      const page = await this.channel.history(this.cursor, HISTORY_PAGE);
      if (sink.closed) return false;
      const { oldestId } = page;
      if (oldestId !== null && this.cursor < oldestId - 1) {
        sink.send({
          event: HISTORY_TRUNCATED_EVENT,
          data: JSON.stringify({ lastEventId: this.cursor, oldestId }),
        });
        this.cursor = oldestId - 1;
      }
      for (const event of page.events) {
        const id = eventId(event, 0);
        if (id <= this.cursor) continue;
        // A replay can wait for the client to read: wait instead of dropping it.
        while (!sink.fits(event)) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            sink.onPull = resolve;
          });
          sink.onPull = undefined;
          if (sink.closed) return false;
        }
        sink.write(event);
        this.cursor = id;
      }
      if (page.events.length < HISTORY_PAGE) return true;
    }
  }

  /** Writes the held live messages that follow on; false if they do not (a gap, or some were not held). */
  private writeBacklog(sink: EventSink): boolean {
    const held = this.backlog;
    const complete = !this.backlogFull;
    this.backlog = [];
    this.backlogFull = false;
    for (const frame of held) {
      if (frame.last <= this.cursor) continue;
      if (frame.first > this.cursor + 1) return false;
      if (!this.write(sink, frame)) return true;
    }
    return complete;
  }

  /** The socket dropped: connect again where this subscriber was, and resume from the cursor. */
  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (const delay of RECONNECT_DELAYS_MS) {
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.ended) return;
        try {
          this.channel = this.objects.channels.get(this.objects.id);
          await this.connect(this.shard);
          this.toldLive = false;
          this.replayFirst = true;
          this.reconnecting = false;
          void this.catchUp(true);
          return;
        } catch (error) {
          if (error instanceof StreamCapError) break;
        }
      }
    } finally {
      this.reconnecting = false;
    }
    this.failed = true;
    this.endWithRetry();
  }

  /** Closes the socket without treating it as a drop (its close event no longer matches). */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close(1011, "reconnecting");
    } catch {
      // Closed already.
    }
  }

  /** Ends the stream asking the client to come back soon, with its Last-Event-ID. */
  private endWithRetry(): void {
    const sink = this.sink;
    if (sink === undefined || sink.closed) return;
    sink.write(encodeRetry(this.options.retryMs));
    sink.close();
  }

  /**
   * Opens the socket: to the channel's object, which accepts it or names the shard to use; or,
   * after a drop, straight back to the shard it had. Returns the newest id the object reported
   * (the cursor for a live-only subscriber).
   */
  private async connect(previousShard: number | undefined): Promise<number> {
    const { after, client } = this.options;
    const headers = new Headers({ upgrade: "websocket" });
    if (client !== undefined) headers.set(CLIENT_HEADER, client);
    if (after !== undefined) headers.set(AFTER_HEADER, String(after));
    if (this.options.presence) headers.set(PRESENCE_HEADER, "1");
    let latest = this.cursor;
    let shard = previousShard ?? 0;
    let response: Response | undefined;
    if (shard === 0) {
      if (previousShard !== undefined) headers.set(PREVIOUS_SHARD_HEADER, "0");
      response = await this.channel.fetch(SUBSCRIBE_URL, { headers });
      const refused = response.headers.get(REFUSED_HEADER);
      if (refused !== null) throw new StreamCapError(refused as StreamCap);
      latest = Number(response.headers.get(LATEST_HEADER) ?? latest);
      shard = Number(response.headers.get(SHARD_HEADER) ?? 0);
    }
    if (shard !== 0) {
      const placed = previousShard === undefined;
      const channelId = this.objects.id.toString();
      headers.set(CHANNEL_ID_HEADER, channelId);
      headers.set(SHARD_HEADER, String(shard));
      headers.set(CATCHING_UP_HEADER, "1");
      if (placed) headers.set(PLACED_HEADER, "1");
      const { shards } = this.objects;
      response = await shards.get(shards.idFromName(shardName(channelId, shard))).fetch(SUBSCRIBE_URL, {
        headers,
      });
      // Placed: the channel's object made the shard receive every message after `latest` in the step
      // that answered it, and the shard said what it delivered before this socket joined. Only those
      // after `latest` were missed: with none, there is nothing to read from history (one call to the
      // channel's object per subscriber, which at thousands joining at once held up the ramp and
      // the messages alike). Back on its shard after a drop, a subscriber catches up from its cursor.
      // (A frame delivered to an earlier instance of the shard, evicted before this socket joined,
      // is not known here: that subscriber sees the gap at the next message, as after a lost delivery.)
      const delivered = Number(response.headers.get(DELIVERED_HEADER) ?? Number.NaN);
      if (!placed || !(delivered <= latest)) this.replayFirst = true;
    }
    const socket = response?.webSocket;
    if (socket === null || socket === undefined) {
      throw new Error(`the channel's object answered ${response?.status} instead of a WebSocket`);
    }
    // Frames as ArrayBuffers, written as they are; the standard default (Blob) would need a read each.
    socket.binaryType = "arraybuffer";
    socket.accept();
    socket.addEventListener("message", this);
    socket.addEventListener("close", this);
    socket.addEventListener("error", this);
    this.shard = shard;
    this.socket = socket;
    if (this.ended) this.close();
    return latest;
  }
}
