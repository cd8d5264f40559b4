/**
 * The app as a Node, Bun or Deno server process runs it. The process is one I/O context, so one
 * keep-alive timer serves all its streams; and those runtimes cancel a stream's body when its
 * client leaves, so streams need no request signal (it cost about 500 bytes per idle connection
 * on Bun). With `REDIS_URL` the channels live in Redis, shared by every process on it; the Redis
 * code (and the `redis` package) is loaded only then. Not imported by the Workers entry, so no
 * Worker bundle holds it.
 */
import { RedisStore, type Store } from "hono-rate-limiter";
import { type Config, publicSettings, readConfig, streamLimits, streamSettings } from "../config.ts";
import type { StreamLog } from "../hub/log.ts";
import type { RedisHub } from "../hub/redis/index.ts";
import { formatLine, type Logger } from "../log/logger.ts";
import { logStreamClosed } from "../log/stream-log.ts";
import { OpenStreams } from "../sse/index.ts";
import { type AppOptions, createApp } from "./app.ts";
import { chatRoutesWith } from "./chat.ts";
import type { Readiness } from "./health.ts";

export interface ServerApp {
  app: ReturnType<typeof createApp>;
  /** The open streams, for the entry's shutdown. */
  openStreams: OpenStreams;
  /** Turned to draining by the shutdown, so that `/readyz` fails before the server stops accepting. */
  readiness: Readiness;
  /** The hub the app uses: undefined for the in-memory default, or the Redis hub. */
  hub: RedisHub | undefined;
  /** What the start-up line says the hub is. */
  hubName: "memory" | "redis";
}

/**
 * The config from the environment. A bad setting ends the process with one log line that names it
 * (a stack trace would bury it), and exit code 1. Written as a log line with no logger yet: the
 * logger's own level is one of the settings.
 */
export function readServerConfig(env: Record<string, unknown>, exit: (code: number) => never): Config {
  try {
    return readConfig(env);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    console.error(formatLine("error", `edge-sse cannot start: ${error.message}`));
    return exit(1);
  }
}

export async function createServerApp(
  config: Config,
  options: Pick<AppOptions, "serveAssets" | "clientAddress" | "requestBody" | "metrics"> & { logger: Logger },
): Promise<ServerApp> {
  const { logger, metrics } = options;
  const openStreams = new OpenStreams(config, { sharedKeepAliveTimers: true, onClosed: logStreamClosed(logger) });
  const readiness: Readiness = { draining: false };
  let hub: RedisHub | undefined;
  let log: StreamLog | undefined;
  let publishRateLimitStore: Store | undefined;
  if (config.redisUrl !== "") {
    const { connectRedis } = await import("../hub/redis/index.ts");
    // As the log may show it: without its password.
    const shownUrl = publicSettings(config).redisUrl;
    // Channels and durable streams (/v1/stream) both live in Redis, on the same connections.
    ({ hub, log } = await connectRedis({
      url: config.redisUrl,
      historyLimit: config.historyLimit,
      idempotencyKeyTtlSeconds: config.idempotencyKeyTtlSeconds,
      streams: streamSettings(config),
      openStreams,
      timeoutMs: config.redisTimeoutMs,
      metrics: metrics?.hub,
      streamLimits: streamLimits(config),
      appendSpacingMs: config.answerAppendSpacingMs,
      onConnectionChange: (connected, error) => {
        if (connected) logger.info("connected to Redis", { redis: shownUrl });
        else {
          logger.warn("Redis unreachable: publishes answer 503 until it is back; retrying", {
            redis: shownUrl,
            error: String((error as Error | undefined)?.message ?? error),
          });
        }
      },
    }));
    publishRateLimitStore = rateLimitStoreOn(hub);
  }
  const app = createApp(config, {
    ...options,
    chat: chatRoutesWith(config),
    hub,
    log,
    openStreams,
    readiness,
    useRequestSignal: false,
    publishRateLimitStore,
  });
  return { app, openStreams, readiness, hub, hubName: hub === undefined ? "memory" : "redis" };
}

/** hono-rate-limiter's Redis store, on the hub's command connection (no third connection). */
function rateLimitStoreOn(hub: RedisHub): Store {
  const send = <T>(args: string[]) => hub.sendCommand(args) as Promise<T>;
  return new RedisStore({
    prefix: "edge-sse:publish-rate:",
    client: {
      scriptLoad: (script) => send(["SCRIPT", "LOAD", script]),
      evalsha: (sha, keys, args) => send(["EVALSHA", sha, String(keys.length), ...keys, ...args.map(String)]),
      decr: (key) => send(["DECR", key]),
      del: (key) => send(["DEL", key]),
    },
  });
}
