/**
 * A shard of a big channel: more subscribers' WebSockets (hibernatable, as in the channel object)
 * once the channel's object holds `shardSubscribers`. It stores nothing: the channel's object
 * numbers and stores each message and hands it here once; this object sends it to its sockets.
 * After joins and leaves it reports its real counts to the channel's object, which places new
 * subscribers and applies the caps for the whole channel: one report at a time, covering every
 * join and leave since the last, so a ramp or a mass departure costs a few calls, not one each.
 */
import { DurableObject } from "cloudflare:workers";
import type { ChannelObject } from "./channel-object.ts";
import { frameLastId } from "./frame.ts";
import {
  CATCHING_UP_HEADER,
  CHANNEL_ID_HEADER,
  CLIENT_HEADER,
  DELIVERED_HEADER,
  LIVE_NOTICE,
  PLACED_HEADER,
  PRESENCE_HEADER,
  SHARD_HEADER,
  type SubscriberAttachment,
  socketTags,
} from "./protocol.ts";
import type { ClientCounts } from "./shard-load.ts";
import { clientOf, isCatchingUp, SocketCounts, sendPresence } from "./socket-counts.ts";
import { SocketFanOut } from "./socket-fan-out.ts";

export interface ShardEnv {
  CHANNELS: DurableObjectNamespace<ChannelObject>;
  [setting: string]: unknown;
}

/** What a shard keeps on each socket: also where its channel is, for reports after waking. */
interface ShardAttachment extends SubscriberAttachment {
  channelId: string;
  shard: number;
}

export class ChannelShard extends DurableObject<ShardEnv> {
  /** Whether this instance has sent its full per-client counts (memory is empty after a restart). */
  private reportedAll = false;
  private readonly sockets = new SocketCounts(this.ctx);
  private readonly fanOut = new SocketFanOut(() => this.ctx.getWebSockets());
  /** The newest id this instance has delivered (0: none): what a placed subscriber may have missed. */
  private delivered = 0;
  /** Where reports go (the same for every socket here), from the first socket seen. */
  private channel: Pick<ShardAttachment, "channelId" | "shard"> | undefined;
  /** Since the last report: the clients whose counts changed, and the placed subscribers that joined. */
  private readonly changedClients = new Set<string>();
  private joined = 0;
  private reportDue = false;
  private reporting = false;

  override fetch(request: Request): Response {
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected a WebSocket", { status: 426 });
    const channelId = request.headers.get(CHANNEL_ID_HEADER);
    const shard = Number(request.headers.get(SHARD_HEADER));
    if (channelId === null || !(shard >= 1)) return new Response("not a shard subscription", { status: 400 });
    const client = request.headers.get(CLIENT_HEADER) ?? undefined;
    const attachment: ShardAttachment = { live: request.headers.get(CATCHING_UP_HEADER) === null, channelId, shard };
    const [socket, accepted] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.sockets.adding(client, !attachment.live);
    this.ctx.acceptWebSocket(accepted, socketTags(client, request.headers.has(PRESENCE_HEADER)));
    accepted.serializeAttachment(attachment);
    this.fanOut.joined(accepted, this.delivered);
    this.changed(attachment, client, request.headers.has(PLACED_HEADER) ? 1 : 0);
    // From here on every frame delivered reaches this socket too (this object runs one event at a time).
    return new Response(null, {
      status: 101,
      webSocket: socket,
      headers: { [DELIVERED_HEADER]: String(this.delivered) },
    });
  }

  /** Messages from the channel's object, already encoded: the same bytes to every socket. */
  deliver(frame: Uint8Array): void {
    this.delivered = Math.max(this.delivered, frameLastId(frame));
    this.fanOut.send(frame);
  }

  /** The channel's subscriber count, from its object, for the sockets here that asked for it. */
  presence(count: string): void {
    sendPresence(this.ctx, count);
  }

  stats(): { subscribers: number; catchingUp: number } {
    return { subscribers: this.sockets.total, catchingUp: this.sockets.catchingUp };
  }

  /** Its subscribers, every client's too: for the channel's object to recount after it restarts. */
  counts(): { subscribers: number; clients: ClientCounts } {
    return { subscribers: this.sockets.total, clients: this.sockets.clients() };
  }

  override webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): void {
    if (message !== LIVE_NOTICE || !isCatchingUp(socket)) return;
    const attachment = socket.deserializeAttachment() as ShardAttachment;
    socket.serializeAttachment({ ...attachment, live: true } satisfies ShardAttachment);
    this.sockets.caughtUp();
  }

  override webSocketClose(socket: WebSocket): void {
    this.left(socket);
  }

  override webSocketError(socket: WebSocket): void {
    this.left(socket);
  }

  private left(socket: WebSocket): void {
    const attachment = socket.deserializeAttachment() as ShardAttachment | null;
    this.sockets.removed();
    if (attachment === null) return;
    this.changed(attachment, clientOf(this.ctx, socket), 0);
  }

  /** A subscriber joined or left: report soon, with whatever else changes until then. */
  private changed(where: ShardAttachment, client: string | undefined, joined: number): void {
    this.channel ??= { channelId: where.channelId, shard: where.shard };
    if (client !== undefined) this.changedClients.add(client);
    this.joined += joined;
    this.reportDue = true;
    if (!this.reporting) void this.sendReports();
  }

  /**
   * Sends the channel's object this shard's counts (every client's the first time, then those of the
   * clients that changed) until nothing changed since the last report. One report at a time: joins
   * and leaves during a report's round trip go in the next, so a ramp of a thousand subscribers, or
   * their departure, costs a few calls to the channel's object instead of one each (and a count of
   * the sockets per report, not per join or leave).
   */
  private async sendReports(): Promise<void> {
    this.reporting = true;
    try {
      // The rest of this turn's joins and leaves (a mass departure closes many sockets at once).
      await new Promise((resolve) => setTimeout(resolve, 0));
      while (this.reportDue && this.channel !== undefined) {
        this.reportDue = false;
        const complete = !this.reportedAll;
        const clients: ClientCounts = complete ? this.sockets.clients() : {};
        for (const client of this.changedClients) clients[client] = this.sockets.ofClient(client);
        this.changedClients.clear();
        const joined = this.joined;
        this.joined = 0;
        this.reportedAll = true;
        const { channelId, shard } = this.channel;
        const channels = this.env.CHANNELS;
        try {
          await channels
            .get(channels.idFromString(channelId))
            .shardReport(shard, this.sockets.total, clients, complete, joined);
        } catch (error) {
          // The channel's row of this shard is wrong now: the next report sends every client's
          // counts and these joins again, and the channel's object recounts its shards when it restarts.
          this.reportedAll = false;
          this.joined += joined;
          console.error("edge-sse: a shard could not report its subscribers to its channel", error);
          return;
        }
      }
    } finally {
      this.reporting = false;
    }
  }
}
