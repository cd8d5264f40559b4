/**
 * The app as a Node, Bun or Deno server process runs it. The process is one I/O context, so one
 * keep-alive timer serves all its streams; and those runtimes cancel a stream's body when its
 * client leaves, so streams need no request signal (it cost about 500 bytes per idle connection
 * on Bun). With `REDIS_URL` the channels live in Redis, shared by every process on it; the Redis
 * code (and the `redis` package) is loaded only then. Not imported by the Workers entry, so no
 * Worker bundle holds it.
 */
import { RedisStore, type Store } from "hono-rate-limiter";
import { type Config, readConfig, streamSettings } from "../config.ts";
import type { Hub } from "../hub/hub.ts";
import type { RedisHub } from "../hub/redis/hub.ts";
import { OpenStreams } from "../sse/index.ts";
import { type AppOptions, createApp } from "./app.ts";

export interface ServerApp {
  app: ReturnType<typeof createApp>;
  /** The open streams, for the entry's shutdown. */
  openStreams: OpenStreams;
  /** The hub the app uses: in memory, or Redis. */
  hub: Hub | undefined;
}

/**
 * The config from the environment. A bad setting ends the process with one line that names it
 * (a person reads it; a stack trace would bury it), and exit code 1.
 */
export function readServerConfig(env: Record<string, unknown>, exit: (code: number) => never): Config {
  try {
    return readConfig(env);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    console.error(`edge-sse: ${error.message}`);
    return exit(1);
  }
}

export async function createServerApp(
  config: Config,
  options: Pick<AppOptions, "serveAssets" | "clientAddress">,
): Promise<ServerApp> {
  const openStreams = new OpenStreams(config, { sharedKeepAliveTimers: true });
  let hub: RedisHub | undefined;
  let publishRateLimitStore: Store | undefined;
  if (config.redisUrl !== "") {
    const { connectRedisHub } = await import("../hub/redis/connect.ts");
    hub = await connectRedisHub({
      url: config.redisUrl,
      historyLimit: config.historyLimit,
      streams: streamSettings(config),
      openStreams,
      timeoutMs: config.redisTimeoutMs,
      onConnectionChange: (connected, error) =>
        console.error(
          connected
            ? "edge-sse: connected to Redis"
            : `edge-sse: Redis unreachable (${String((error as Error | undefined)?.message ?? error)}); retrying`,
        ),
    });
    publishRateLimitStore = rateLimitStoreOn(hub);
  }
  const app = createApp(config, { ...options, hub, openStreams, useRequestSignal: false, publishRateLimitStore });
  return { app, openStreams, hub };
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
