/**
 * Channels on Cloudflare Workers: one Durable Object per channel. Every isolate's publishes and
 * streams for a channel reach the same object, so it can hold all subscribers (a plain Worker
 * cannot write into another request's stream; see ../shared/FINDINGS.md) and keep the history
 * in its SQLite storage.
 */
import { DurableObject } from "cloudflare:workers";
import { readConfig, streamSettings } from "../config.ts";
import { OpenStreams, type StreamCap, StreamCapError } from "../sse/index.ts";
import { Channel, type ChannelStats } from "./channel.ts";
import type { Hub, StreamOptions } from "./hub.ts";
import type { Message, NewMessage } from "./message.ts";
import { SqlMessageStore } from "./sql-store.ts";

// How the Worker tells the object where a stream resumes and whose it is (the object sees only
// this request), and how the object answers that a cap refused it.
const AFTER_HEADER = "x-edge-sse-after";
const CLIENT_HEADER = "x-edge-sse-client";
const PRESENCE_HEADER = "x-edge-sse-presence";
const REFUSED_HEADER = "x-edge-sse-refused";

export class ChannelObject extends DurableObject<Record<string, unknown>> {
  private readonly channel: Channel;
  private readonly openStreams: OpenStreams;

  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env);
    const config = readConfig(env);
    // The caps count this channel's streams: every isolate's subscribers of it are here.
    // One keep-alive timer for all: the object is one I/O context for all its requests.
    this.openStreams = new OpenStreams(config, { sharedKeepAliveTimers: true });
    this.channel = new Channel(new SqlMessageStore(ctx.storage.sql, config.historyLimit), streamSettings(config));
  }

  /** Streams go through fetch, not RPC: only a request carries the signal that ends them here. */
  override async fetch(request: Request): Promise<Response> {
    const after = request.headers.get(AFTER_HEADER);
    try {
      return this.channel.stream({
        after: after === null ? undefined : Number(after),
        signal: request.signal,
        openStreams: this.openStreams,
        client: request.headers.get(CLIENT_HEADER) ?? undefined,
        presence: request.headers.has(PRESENCE_HEADER),
      });
    } catch (error) {
      if (!(error instanceof StreamCapError)) throw error;
      return new Response(null, { status: 503, headers: { [REFUSED_HEADER]: error.cap } });
    }
  }

  publish(message: NewMessage): Message {
    return this.channel.publish(message);
  }

  list(after: number, limit: number): Message[] {
    return this.channel.list(after, limit);
  }

  stats(): ChannelStats {
    return this.channel.stats();
  }
}

/** The Hub seen from a Worker: each call goes to the channel's object. */
export class DurableObjectHub implements Hub {
  /** Channels this isolate has used, for `stats()`: an object cannot list its siblings. */
  private readonly used = new Set<string>();

  constructor(private readonly channels: DurableObjectNamespace<ChannelObject>) {}

  publish(channel: string, message: NewMessage) {
    return this.object(channel).publish(message);
  }

  list(channel: string, after: number, limit: number) {
    return this.object(channel).list(after, limit);
  }

  async stream(channel: string, { after, request, client, presence }: StreamOptions) {
    const headers = new Headers();
    if (after !== undefined) headers.set(AFTER_HEADER, String(after));
    if (client !== undefined) headers.set(CLIENT_HEADER, client);
    if (presence) headers.set(PRESENCE_HEADER, "1");
    // The object reads nothing from the URL; without its query, a token passed as ?authorization= goes no further.
    const url = new URL(request.url);
    url.search = "";
    const response = await this.object(channel).fetch(new Request(url, { headers, signal: request.signal }));
    const refused = response.headers.get(REFUSED_HEADER);
    if (refused !== null) throw new StreamCapError(refused as StreamCap);
    if (!response.body) return response;
    // Measured under wrangler dev: returning the object's response as it is, a client that left
    // while messages were flowing was never noticed inside the object (its signal did not abort,
    // its writes kept succeeding). Piping through this Worker, which does see its own request's
    // signal abort, and cancelling the object's body then, ends the stream in the object too.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    response.body.pipeTo(writable, { signal: request.signal }).catch(() => {});
    return new Response(readable, response);
  }

  channelStats(channel: string) {
    return this.object(channel).stats();
  }

  async stats() {
    const names = [...this.used];
    const stats = await Promise.all(names.map((name) => this.channelStats(name)));
    return Object.fromEntries(names.map((name, i) => [name, stats[i] as ChannelStats]));
  }

  private object(name: string) {
    this.used.add(name);
    return this.channels.get(this.channels.idFromName(name));
  }
}
