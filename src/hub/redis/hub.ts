/**
 * The Redis hub: channels shared by every Node, Bun and Deno process on one Redis. Each channel is
 * its stream of the log, `channels/<name>` (keys.ts): the record says where its ids stand, the
 * entries are its history, and its `changes` pub/sub announces each event; publishing is one script
 * (publish-script.ts) and any RedisLog reads the same stream at /v1/stream/channels/<name>;
 * each process keeps only its own subscribers and delivers to them in order (redis-channel.ts).
 * Per process: one connection for commands and one for pub/sub, whatever the number of channels
 * and subscribers. Loaded only when `REDIS_URL` is set (see connect.ts). See docs/architecture.md
 * ("Redis").
 */
import { ErrorReply } from "redis";
import { eventStream, type OpenStreams } from "../../sse/index.ts";
import { BackendUnavailableError } from "../backend-unavailable.ts";
import { type ChannelStats, type ChannelSubscriber, PART_SETTINGS, type StreamSettings } from "../channel.ts";
import { decodeStored, envelopeMiddle } from "../channel-entry.ts";
import { afterId, type ChannelEvent, dataWithId, draftOf, type Publication, type Published } from "../channel-event.ts";
import { channelOfStream } from "../channel-stream-name.ts";
import { EndOfTurn } from "../end-of-turn.ts";
import type { BackendStatus, Hub, StreamOptions, SubscribeOptions, Subscription } from "../hub.ts";
import type { HubMetrics } from "../hub-metrics.ts";
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS } from "../store.ts";
import { channelRecord, type StreamRecord } from "../stream-rules.ts";
import { CommandDeadline } from "./command-deadline.ts";
import { type ChannelKeys, channelKeys } from "./keys.ts";
import { migrateLegacyChannel } from "./legacy-channel.ts";
import { PRESENCE_NOTICE } from "./log-notice.ts";
import { PUBLISH_SCRIPT } from "./publish-script.ts";
import { READ_SCRIPT } from "./read-script.ts";
import { type ChannelHistory, type ChannelPresence, RedisChannel } from "./redis-channel.ts";
import { runScript, sha1 } from "./script-sha.ts";

// A process refreshes its subscriber counts this often; a count not refreshed for PRESENCE_TTL_MS
// (a process that crashed) no longer counts.
const PRESENCE_HEARTBEAT_MS = 10_000;
const PRESENCE_TTL_MS = 30_000;

/** What the hub uses of a node-redis client (`createClient`'s, whatever its type parameters). */
export interface RedisConnection {
  readonly isReady: boolean;
  on(event: "ready", listener: () => void): unknown;
  sendCommand(args: string[], options: { timeout: number }): Promise<unknown>;
  sSubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  sUnsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  close(): Promise<unknown>;
}

export interface RedisHubOptions {
  /** For commands; created with `disableOfflineQueue`, so a command fails at once while Redis is away. */
  commands: RedisConnection;
  /** For pub/sub only (a subscribed connection can send nothing else); it resubscribes on reconnect. */
  subscriber: RedisConnection;
  /** SHA-1 of PUBLISH_SCRIPT, for EVALSHA. */
  publishScriptSha: string;
  historyLimit: number;
  /** How long a channel remembers an idempotency key (default: a day). */
  idempotencyKeyTtlSeconds?: number | undefined;
  streams: StreamSettings;
  openStreams: OpenStreams;
  /** How long a command may take before the request answers 503. */
  timeoutMs: number;
  /** What every key starts with (default `edge-sse`). */
  prefix?: string;
  /** Where publishes, deliveries and gap fills are counted (default: nowhere). */
  metrics?: HubMetrics;
}

/** A channel's record, and the position its first event went to (see keys.ts). */
interface ChannelState {
  record: StreamRecord;
  first: number;
}

export class RedisHub implements Hub {
  /** Channels with subscribers in this process, each subscribed once on the pub/sub connection. */
  private readonly channels = new Map<string, RedisChannel>();
  /** One for all channels: their runs of a turn go out together (see EndOfTurn). */
  private readonly endOfTurn = new EndOfTurn();
  /** What every command races: Redis answers within about `timeoutMs`, or the request is a 503. */
  private readonly deadline: CommandDeadline;
  private readonly prefix: string;
  /** This process, in the channels' presence hashes. */
  private readonly processId = crypto.randomUUID();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly readScriptSha = sha1(READ_SCRIPT);

  constructor(private readonly options: RedisHubOptions) {
    this.deadline = new CommandDeadline(options.timeoutMs);
    this.prefix = options.prefix ?? "edge-sse";
    this.heartbeat = setInterval(() => {
      for (const channel of this.channels.values()) channel.heartbeat();
    }, PRESENCE_HEARTBEAT_MS);
    // node-redis resubscribes before it reports `ready`: each channel then reads what it missed.
    options.subscriber.on("ready", () => this.reconnected());
    options.commands.on("ready", () => this.reconnected());
  }

  async publish(channel: string, publication: Publication): Promise<Published> {
    const draft = draftOf(publication);
    const keys = channelKeys(this.prefix, channel);
    const createdAt = new Date().toISOString();
    const { idempotencyKey } = publication;
    const { stream } = keys;
    const scriptKeys = [stream.record, stream.entries, stream.changes];
    if (idempotencyKey !== undefined) scriptKeys.push(`${keys.idempotencyPrefix}${idempotencyKey}`);
    // With idInData the script writes `{"id":N` in front of the object's members (see publish-script.ts).
    const data = draft.idInData ? afterId(draft.data) : draft.data;
    const seen = String(this.channels.get(channel)?.highestId ?? 0);
    const args = [
      String(scriptKeys.length),
      ...scriptKeys,
      envelopeMiddle(draft.event, createdAt),
      data,
      String(this.options.historyLimit),
      seen,
      draft.idInData ? "1" : "0",
      String(this.options.idempotencyKeyTtlSeconds ?? DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS),
      // No record yet: the script stores nothing, so that the channel's keys from before it was a
      // stream move in first (legacy-channel.ts); then again with the record to start from.
      "",
    ];
    const run = () =>
      runScript(
        (command) => this.command<number | string | null>(command),
        PUBLISH_SCRIPT,
        this.options.publishScriptSha,
        args,
      );
    let reply = await run();
    if (reply === null) {
      await this.migrate(keys);
      args[args.length - 1] = JSON.stringify(
        channelRecord(0, this.options.historyLimit, Date.now(), crypto.randomUUID()),
      );
      reply = await run();
      if (reply === null) throw new Error("the publish script stored nothing although given a record");
    }
    // A key seen before: the script answered the first event's stored JSON, and stored nothing.
    if (typeof reply === "string") return { event: decodeStored(reply), replayed: true };
    this.options.metrics?.published(channel);
    const id = Number(reply);
    return { event: { id, event: draft.event, data: dataWithId(draft, id), createdAt }, replayed: false };
  }

  async list(channel: string, after: number, limit: number): Promise<ChannelEvent[]> {
    return this.readHistory(channelKeys(this.prefix, channel), after, limit);
  }

  async stream(channel: string, { after, signal, client, presence, endsAt, part }: StreamOptions): Promise<Response> {
    const state = this.channel(channel);
    // Opened once this process is in step with the channel, so a client that saw the stream open
    // gets every message published after that.
    await state.whenSynced(this.options.timeoutMs);
    const source =
      after !== undefined
        ? state.replayThenJoin(after, presence === true)
        : presence
          ? state.joinLiveWithPresence
          : state.joinLive;
    return eventStream(source, {
      ...this.options.streams,
      ...(part ? PART_SETTINGS : {}),
      signal,
      openStreams: part ? undefined : this.options.openStreams,
      client,
      endsAt,
      // One function per channel, not per stream: forgets the channel if this was its last stream,
      // including one that never started (a HEAD, a client gone before the first read).
      onClose: state.release,
    });
  }

  async subscribe(channel: string, { after, presence }: SubscribeOptions): Promise<Subscription> {
    const state = this.channel(channel);
    // As for a stream: started once this process is in step with the channel.
    await state.whenSynced(this.options.timeoutMs);
    let leave: ((subscriber: ChannelSubscriber) => void) | undefined;
    let subscriber: ChannelSubscriber | undefined;
    let stopped = false;
    const endOfTurn = this.endOfTurn;
    return {
      // Announcements read together go out in runs, every channel's at the end of the turn (EndOfTurn).
      get gathers() {
        return !endOfTurn.sendingOne;
      },
      start: (to) => {
        if (stopped || subscriber !== undefined) return;
        subscriber = to;
        const join =
          after !== undefined
            ? state.replayThenJoin(after, presence === true)
            : presence
              ? state.joinLiveWithPresence
              : state.joinLive;
        leave = join(to);
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        // Forgets the channel if this was its last subscriber, also when it never started.
        if (leave !== undefined && subscriber !== undefined) leave(subscriber);
        else state.release();
      },
    };
  }

  async channelStats(channel: string): Promise<ChannelStats> {
    const state = await this.state(channelKeys(this.prefix, channel));
    const local = this.channels.get(channel);
    const record = state?.record;
    return {
      subscribers: local?.subscribers ?? 0,
      catchingUp: local?.catchingUpCount ?? 0,
      latestId: record?.tail ?? 0,
      // Ids are positions + 1: the oldest kept is the head's.
      oldestId: record === undefined || record.head === record.tail ? null : record.head + 1,
    };
  }

  /** The channels with subscribers in this process, with the shared figures from Redis. */
  async stats(): Promise<Record<string, ChannelStats>> {
    const names = [...this.channels.keys()];
    const stats = await Promise.all(names.map((name) => this.channelStats(name)));
    return Object.fromEntries(names.map((name, i) => [name, stats[i] as ChannelStats]));
  }

  backendStatus(): BackendStatus {
    return { backend: "redis", connected: this.options.commands.isReady && this.options.subscriber.isReady };
  }

  /** Closes both connections (shutdown, tests). Streams stay as they are. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const channel of this.channels.values()) channel.end();
    this.channels.clear();
    await Promise.allSettled([this.options.commands.close(), this.options.subscriber.close()]);
  }

  private channel(name: string): RedisChannel {
    const existing = this.channels.get(name);
    if (existing) return existing;
    const keys = channelKeys(this.prefix, name);
    const history: ChannelHistory = {
      after: (after, count) => this.readHistory(keys, after, count),
      latestId: async () => (await this.state(keys))?.record.tail ?? 0,
      everTrimmed: async () => {
        const state = await this.state(keys);
        return state !== undefined && state.record.head > state.first;
      },
    };
    const presence = this.presenceOf(keys);
    const channel = new RedisChannel(
      history,
      presence,
      (empty) => {
        if (this.channels.get(name) !== empty) return;
        empty.end();
        this.channels.delete(name);
        presence.report(0).catch(() => {
          // Unreported, the count expires by itself.
        });
        this.options.subscriber.sUnsubscribe(keys.stream.changes, listener).catch(() => {
          // Gone with the connection anyway: a lost connection holds no subscription.
        });
      },
      this.options.metrics,
      this.endOfTurn,
    );
    const listener = (notice: string) => channel.onAnnounced(notice);
    this.channels.set(name, channel);
    // Offline queue on this connection: while Redis is away the subscription waits for it.
    this.options.subscriber.sSubscribe(keys.stream.changes, listener).then(
      () => channel.onSubscribed(),
      () => {
        // The client was closed: nothing more will arrive.
      },
    );
    return channel;
  }

  private reconnected(): void {
    for (const channel of this.channels.values()) channel.onReconnected();
  }

  private presenceOf(keys: ChannelKeys): ChannelPresence {
    return {
      report: async (count) => {
        if (count === 0) await this.command(["HDEL", keys.presence, this.processId]);
        else {
          await Promise.all([
            this.command(["HSET", keys.presence, this.processId, `${count} ${Date.now() + PRESENCE_TTL_MS}`]),
            // The whole hash goes once no process refreshes it.
            this.command(["PEXPIRE", keys.presence, String(2 * PRESENCE_TTL_MS)]),
          ]);
        }
        await this.command(["SPUBLISH", keys.stream.changes, PRESENCE_NOTICE]);
      },
      total: async () => {
        const reply = await this.command<unknown>(["HGETALL", keys.presence]);
        const now = Date.now();
        let total = 0;
        for (const [, value] of hashEntries(reply)) {
          const [count, expiresAt] = String(value).split(" ").map(Number);
          if ((expiresAt as number) > now) total += count as number;
        }
        return total;
      },
    };
  }

  /** Up to `count` kept events with an id above `after` (at positions from `after` on). */
  private async readHistory(keys: ChannelKeys, after: number, count: number): Promise<ChannelEvent[]> {
    const { stream } = keys;
    const args = ["2", stream.record, stream.entries, String(after), String(count)];
    for (let migrated = false; ; migrated = true) {
      const reply = await runScript(
        (command) => this.command<[string, string[]] | null>(command),
        READ_SCRIPT,
        await this.readScriptSha,
        args,
      );
      if (reply !== null) return reply[1].map(decodeStored);
      if (migrated || !(await this.migrate(keys))) return [];
    }
  }

  /** The channel's record; undefined before its first event. */
  private async state(keys: ChannelKeys): Promise<ChannelState | undefined> {
    for (let migrated = false; ; migrated = true) {
      const [json, first] = await this.command<[string | null, string | null]>([
        "HMGET",
        keys.stream.record,
        "json",
        "first",
      ]);
      // No `first`: a record not made by the publish script; count its head as trimmed.
      if (json !== null) return { record: JSON.parse(json) as StreamRecord, first: Number(first ?? 0) };
      if (migrated || !(await this.migrate(keys))) return undefined;
    }
  }

  /**
   * For the log: a channel's stream with no record may be a channel of the earlier version, moved
   * in now (so `/v1/stream/channels/<name>` reads it before any publish or history read did).
   */
  bringInChannelStream(name: string): Promise<boolean> {
    const channel = channelOfStream(name);
    return channel === undefined ? Promise.resolve(false) : this.migrate(channelKeys(this.prefix, channel));
  }

  /** Moves the channel's keys from before it was a stream, if it has any (legacy-channel.ts). */
  private migrate(keys: ChannelKeys): Promise<boolean> {
    return migrateLegacyChannel((args) => this.command(args), keys, this.options.historyLimit);
  }

  /**
   * One command on the command connection, answered within the timeout; a Redis that cannot
   * answer throws BackendUnavailableError (a 503). For the app's other uses of Redis (the shared
   * publish rate limit).
   */
  sendCommand(args: string[]): Promise<unknown> {
    return this.command(args);
  }

  private async command<T>(args: string[]): Promise<T> {
    try {
      // node-redis's own timeout ends once the command is written: the deadline covers the answer.
      return (await this.deadline.race(this.options.commands.sendCommand(args, NO_TIMEOUT))) as T;
    } catch (error) {
      // An error reply is Redis answering: a bug here, not an outage.
      if (error instanceof ErrorReply) throw error;
      throw new BackendUnavailableError("redis", error);
    }
  }
}

const NO_TIMEOUT = { timeout: 0 };

/** HGETALL's reply as entries: a flat array in RESP2, a map (or an object) in RESP3. */
function hashEntries(reply: unknown): [unknown, unknown][] {
  if (reply instanceof Map) return [...reply.entries()];
  if (Array.isArray(reply)) {
    const entries: [unknown, unknown][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([reply[i], reply[i + 1]]);
    return entries;
  }
  return Object.entries((reply ?? {}) as Record<string, unknown>);
}
