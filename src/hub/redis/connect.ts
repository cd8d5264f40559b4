/**
 * Makes a RedisHub (channels) and a RedisLog (durable streams) from a `redis://` or `rediss://`
 * URL, on the same two connections. The `redis` package is imported here, on demand: a process
 * without `REDIS_URL` never loads it.
 */
import type { OpenStreams } from "../../sse/index.ts";
import type { StreamSettings } from "../channel.ts";
import type { HubMetrics } from "../hub-metrics.ts";
import type { StreamLimits } from "../stream-rules.ts";
import type { RedisHub } from "./hub.ts";
import { PUBLISH_SCRIPT } from "./publish-script.ts";
import type { RedisLog } from "./redis-log.ts";
import { sha1 } from "./script-sha.ts";

export interface RedisConnectOptions {
  url: string;
  historyLimit: number;
  /** How long a channel remembers an idempotency key (default: a day). */
  idempotencyKeyTtlSeconds?: number;
  streams: StreamSettings;
  openStreams: OpenStreams;
  /** How long a command, and a connection attempt, may take. */
  timeoutMs: number;
  /** Told when the connection to Redis is lost or back (not on every retry). */
  onConnectionChange?: (connected: boolean, error?: unknown) => void;
  /** Where publishes, deliveries, gap fills and the connection's state are counted. */
  metrics?: HubMetrics;
  /** What one durable stream may hold (RedisLog). Default: no limit. */
  streamLimits?: StreamLimits;
  /** The least time between two of an answer's appends (RedisLog, answer-appends.ts). */
  appendSpacingMs?: number;
}

/** Channels and durable streams on one Redis, sharing its connections. */
export interface RedisBackend {
  hub: RedisHub;
  log: RedisLog;
}

// Reconnect soon after a drop, then every second at most, for ever: an outage ends by itself, and
// publishes answer 503 meanwhile instead of waiting.
const reconnectDelay = (retries: number) => Math.min(50 * 2 ** retries, 1_000);

/**
 * Connects both connections (commands and pub/sub). Resolves once both are ready, or after
 * `timeoutMs` with the hub still connecting in the background: a server may start while Redis is
 * away, and its publishes answer 503 until Redis is back.
 */
export async function connectRedisHub(options: RedisConnectOptions): Promise<RedisHub> {
  return (await connectRedis(options)).hub;
}

/** As connectRedisHub, with the durable streams' log on the same connections. */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisBackend> {
  const [{ createClient }, { RedisHub }, { RedisLog }] = await Promise.all([
    import("redis"),
    import("./hub.ts"),
    import("./redis-log.ts"),
  ]);
  const socket = { connectTimeout: options.timeoutMs, reconnectStrategy: reconnectDelay };
  // createClient reads the URL: a malformed one throws here, before anything listens.
  const commands = createClient({ url: options.url, socket, disableOfflineQueue: true });
  const subscriber = createClient({ url: options.url, socket });
  // Undefined until the first attempt has answered: a Redis unreachable from the start is reported too.
  let connected: boolean | undefined;
  const report = (error?: unknown) => {
    const now = commands.isReady && subscriber.isReady;
    if (now !== connected && (now || error !== undefined || connected !== undefined)) {
      // Back after a loss: each channel now reads what it missed (see RedisChannel.onReconnected).
      if (now && connected === false) options.metrics?.recovered();
      connected = now;
      options.metrics?.redisConnected(now);
      options.onConnectionChange?.(now, error);
    }
  };
  for (const client of [commands, subscriber]) {
    // Without a listener an error event would end the process; the client reconnects by itself.
    client.on("error", (error: unknown) => report(error));
    client.on("ready", () => report());
    client.on("end", () => report());
  }
  const hub = new RedisHub({
    commands,
    subscriber,
    publishScriptSha: await sha1(PUBLISH_SCRIPT),
    historyLimit: options.historyLimit,
    idempotencyKeyTtlSeconds: options.idempotencyKeyTtlSeconds,
    streams: options.streams,
    openStreams: options.openStreams,
    timeoutMs: options.timeoutMs,
    metrics: options.metrics,
  });
  const log = new RedisLog({
    commands,
    subscriber,
    limits: options.streamLimits ?? { maxBytes: 0, maxEntries: 0 },
    timeoutMs: options.timeoutMs,
    bringIn: (name) => hub.bringInChannelStream(name),
    appendSpacingMs: options.appendSpacingMs,
  });
  const ready = Promise.all([commands.connect(), subscriber.connect()]);
  ready.catch(() => {
    // Reported through the error events; the clients keep trying.
  });
  await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, options.timeoutMs))]);
  return { hub, log };
}
