/**
 * The in-process hub (the default on Node, Bun and Deno): channels live in this process's
 * memory, each a stream of the app's in-memory log (`channels/<name>`, see channel-log.ts), which
 * /v1/stream reads too. History survives nothing: a restart starts empty, with ids that continue
 * upwards.
 */
import type { OpenStreams } from "../sse/index.ts";
import { Channel, type StreamSettings } from "./channel.ts";
import type { Publication } from "./channel-event.ts";
import { ChannelLog } from "./channel-log.ts";
import { channelStreamName } from "./channel-stream-name.ts";
import { EndOfTurn } from "./end-of-turn.ts";
import type { Hub, StreamOptions, SubscribeOptions, Subscription } from "./hub.ts";
import { type HubMetrics, NO_HUB_METRICS } from "./hub-metrics.ts";
import { MemoryLog } from "./memory/memory-log.ts";
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS } from "./store.ts";

export class MemoryHub implements Hub {
  private readonly channels = new Map<string, Channel>();
  /** One for all channels: their runs of a turn go out together (see EndOfTurn). */
  private readonly endOfTurn = new EndOfTurn();
  // Ids start from the clock in microseconds: a restarted process issues ids above every id the
  // previous one issued (unless it averaged over a million messages a second), so a client
  // resuming with its Last-Event-ID is sent what was published after the restart.
  private readonly firstId = Date.now() * 1000;

  constructor(
    private readonly historyLimit: number,
    private readonly streams: StreamSettings,
    private readonly openStreams: OpenStreams,
    private readonly metrics: HubMetrics = NO_HUB_METRICS,
    /** How long each channel remembers an idempotency key (IDEMPOTENCY_KEY_TTL_SECONDS). */
    private readonly idempotencyKeyTtlSeconds = DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS,
    /** Where the channels are kept: the log the app's /v1/stream routes serve, so they read them too. */
    readonly log = new MemoryLog(),
  ) {}

  async publish(channel: string, publication: Publication) {
    const published = this.channel(channel).publish(publication);
    if (!published.replayed) this.metrics.published(channel);
    return published;
  }

  // Reads do not create channels: only publishing and subscribing do, so a stream of GETs for
  // made-up names cannot fill memory.
  async list(channel: string, after: number, limit: number) {
    return this.channels.get(channel)?.list(after, limit) ?? [];
  }

  async stream(channel: string, { after, signal, client, presence, endsAt, part }: StreamOptions) {
    return this.channel(channel).stream({
      after,
      signal,
      openStreams: part ? undefined : this.openStreams,
      part,
      client,
      channel,
      presence,
      endsAt,
    });
  }

  async subscribe(channel: string, { after, presence }: SubscribeOptions): Promise<Subscription> {
    let stop: (() => void) | undefined;
    let stopped = false;
    const endOfTurn = this.endOfTurn;
    return {
      get gathers() {
        return !endOfTurn.sendingOne;
      },
      // The channel is made only when the subscription starts: one never started (a HEAD) leaves nothing.
      start: (subscriber) => {
        if (stopped || stop !== undefined) return;
        stop = this.channel(channel).subscribe(subscriber, after, presence === true);
      },
      stop: () => {
        stopped = true;
        stop?.();
        stop = undefined;
      },
    };
  }

  async channelStats(channel: string) {
    // A channel not made yet will number its messages from `firstId`: the id before it is its newest
    // so far, so that a client resuming after it gets the first message without a `history-truncated`.
    return (
      this.channels.get(channel)?.stats() ?? {
        subscribers: 0,
        catchingUp: 0,
        latestId: this.log.channel(channelStreamName(channel)).record()?.tail ?? this.firstId - 1,
        oldestId: null,
      }
    );
  }

  async stats() {
    return Object.fromEntries([...this.channels].map(([name, channel]) => [name, channel.stats()]));
  }

  private channel(name: string): Channel {
    let channel = this.channels.get(name);
    if (!channel) {
      // A channel only subscribed to, never published on, goes when its last subscriber does:
      // subscriptions to made-up names must not fill memory.
      channel = new Channel(
        new ChannelLog(this.log.channel(channelStreamName(name)), this.historyLimit, {
          firstPosition: this.firstId - 1,
          idempotencyKeyTtlSeconds: this.idempotencyKeyTtlSeconds,
        }),
        this.streams,
        () => this.channels.delete(name),
        this.metrics,
        this.endOfTurn,
      );
      this.channels.set(name, channel);
    }
    return channel;
  }
}
