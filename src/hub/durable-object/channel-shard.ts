/**
 * A shard of a big channel: more subscribers' WebSockets (hibernatable, as in the channel object)
 * once the channel's object holds `shardSubscribers`. It stores nothing: the channel's object
 * numbers and stores each message and hands it here once; this object sends it to its sockets.
 * After each join and leave it reports its real counts to the channel's object, which places new
 * subscribers and applies the caps for the whole channel.
 */
import { DurableObject } from "cloudflare:workers";
import type { ChannelObject } from "./channel-object.ts";
import {
  CATCHING_UP_HEADER,
  CHANNEL_ID_HEADER,
  CLIENT_HEADER,
  LIVE_NOTICE,
  PRESENCE_HEADER,
  SHARD_HEADER,
  type SubscriberAttachment,
  socketTags,
} from "./protocol.ts";
import type { ClientCounts } from "./shard-load.ts";
import { clientOf, isCatchingUp, SocketCounts, sendPresence } from "./socket-counts.ts";

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
    this.report(attachment, client).catch(this.reportFailed);
    return new Response(null, { status: 101, webSocket: socket });
  }

  /** One message from the channel's object, already encoded: the same bytes to every socket. */
  deliver(frame: Uint8Array): void {
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(frame);
      } catch {
        // Closing already.
      }
    }
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

  override async webSocketClose(socket: WebSocket): Promise<void> {
    await this.left(socket);
  }

  override async webSocketError(socket: WebSocket): Promise<void> {
    await this.left(socket);
  }

  private async left(socket: WebSocket): Promise<void> {
    const attachment = socket.deserializeAttachment() as ShardAttachment | null;
    this.sockets.removed();
    if (attachment === null) return;
    await this.report(attachment, clientOf(this.ctx, socket)).catch(this.reportFailed);
  }

  /** Sends the channel's object this shard's counts: every client's the first time, then `client`'s. */
  private report(where: ShardAttachment, client: string | undefined) {
    const complete = !this.reportedAll;
    const clients: ClientCounts = complete ? this.sockets.clients() : {};
    if (client !== undefined) clients[client] = this.sockets.ofClient(client);
    this.reportedAll = true;
    const channels = this.env.CHANNELS;
    return channels
      .get(channels.idFromString(where.channelId))
      .shardReport(where.shard, this.sockets.total, clients, complete);
  }

  /**
   * A lost report leaves the channel's row of this shard wrong: the next report sends every
   * client's counts again, and the channel's object recounts every shard when it restarts.
   */
  private readonly reportFailed = (error: unknown): void => {
    this.reportedAll = false;
    console.error("edge-sse: a shard could not report its subscribers to its channel", error);
  };
}
