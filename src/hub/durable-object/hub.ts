/**
 * The Hub seen from a Worker: publishes, history and stats go to the channel's object by RPC;
 * each stream is held by the subscriber's own Worker request (see subscription.ts), which is
 * where the keep-alive comments, the per-client buffer and its limits live.
 */
import { type Config, DEFAULT_CONFIG, streamSettings } from "../../config.ts";
import type { Logger } from "../../log/logger.ts";
import { logStreamClosed } from "../../log/stream-log.ts";
import { eventStream, OpenStreams } from "../../sse/index.ts";
import { type ChannelStats, PART_SETTINGS } from "../channel.ts";
import type { Publication } from "../channel-event.ts";
import type { Hub, StreamOptions } from "../hub.ts";
import type { ChannelObject } from "./channel-object.ts";
import type { ChannelShard } from "./channel-shard.ts";
import { Subscription } from "./subscription.ts";

export interface ChannelNamespaces {
  CHANNELS: DurableObjectNamespace<ChannelObject>;
  CHANNEL_SHARDS: DurableObjectNamespace<ChannelShard>;
}

export class DurableObjectHub implements Hub {
  /** Channels this isolate has used, for `stats()`: an object cannot list its siblings. */
  private readonly used = new Set<string>();
  private readonly streamSettings: ReturnType<typeof streamSettings>;
  /**
   * The feed streams this isolate holds, counted and logged (a client dropped as too slow is a warn
   * line, as on Node, Bun and Deno) but not capped: the channel's objects apply the caps over the
   * whole channel.
   */
  readonly openStreams: OpenStreams;

  /**
   * @param namespaces the `CHANNELS` and `CHANNEL_SHARDS` bindings (see wrangler.toml)
   * @param config the streams' settings (retry, keep-alive, buffers); the objects read theirs from env
   * @param logger where drops of too slow clients are logged
   */
  constructor(
    private readonly namespaces: ChannelNamespaces,
    config: Readonly<Config> = DEFAULT_CONFIG,
    logger?: Logger,
  ) {
    this.streamSettings = streamSettings(config);
    this.openStreams = new OpenStreams(
      { maxStreams: 0, maxStreamsPerClient: 0 },
      logger === undefined ? {} : { onClosed: logStreamClosed(logger) },
    );
  }

  publish(channel: string, publication: Publication) {
    return this.object(channel).publish(publication);
  }

  list(channel: string, after: number, limit: number) {
    return this.object(channel).list(after, limit);
  }

  /** Connects to the channel first, so a cap's refusal (StreamCapError) comes before any stream. */
  async stream(channel: string, { after, signal, client, presence, endsAt, part }: StreamOptions) {
    const id = this.namespaces.CHANNELS.idFromName(channel);
    this.used.add(channel);
    const subscription = await Subscription.open(
      { channels: this.namespaces.CHANNELS, id, shards: this.namespaces.CHANNEL_SHARDS },
      { after, client, retryMs: this.streamSettings.retry, presence },
    );
    return eventStream((sink) => subscription.attach(sink), {
      ...this.streamSettings,
      ...(part ? PART_SETTINGS : {}),
      // workerd never cancels the body when the client leaves; the signal, aborted at the stream's
      // next write (a message or keep-alive), is the notice (see ../shared/FINDINGS.md).
      signal,
      onClose: () => subscription.close(),
      openStreams: part ? undefined : this.openStreams,
      kind: "feed",
      channel,
      client,
      endsAt,
    });
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
    const channels = this.namespaces.CHANNELS;
    return channels.get(channels.idFromName(name));
  }
}
