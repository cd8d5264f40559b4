/**
 * A test file's own redis-server, and backends on it as server processes have them (for benchmarks
 * and soaks, which run outside vitest, redis.ts alone).
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { DEFAULT_CONFIG, streamSettings } from "../../src/config.ts";
import { connectRedis, type RedisBackend, type RedisConnectOptions } from "../../src/hub/redis/connect.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import { type RunningRedis, startRedis } from "./redis.ts";

/** A test file's redis-server (see useRedis): its address, a command on it, and backends on it. */
export interface TestRedis {
  readonly url: string;
  command(...args: string[]): Promise<unknown>;
  /** A hub and log on two connections of their own, as a server process has; closed after the test. */
  backend(options?: Partial<RedisConnectOptions>): Promise<RedisBackend>;
}

/**
 * A redis-server for the test file that calls it (without persistence: started before its tests,
 * removed after them), and backends on it, each closed after the test that made it.
 */
export function useRedis(): TestRedis {
  let running: RunningRedis | undefined;
  const backends: RedisBackend[] = [];
  const server = () => {
    if (running === undefined) throw new Error("redis-server is not running: use it inside a test");
    return running;
  };
  beforeAll(async () => {
    running = await startRedis({ durable: false });
  });
  afterEach(async () => {
    for (const { log, hub } of backends.splice(0)) {
      log.close();
      await hub.close();
    }
  });
  afterAll(async () => {
    await running?.dispose();
  });
  return {
    get url() {
      return server().url;
    },
    command: (...args) => server().command(...args),
    async backend(options) {
      const backend = await connectRedis({
        url: server().url,
        historyLimit: 10,
        streams: streamSettings(DEFAULT_CONFIG),
        openStreams: new OpenStreams(DEFAULT_CONFIG),
        timeoutMs: 2_000,
        streamLimits: { maxBytes: 0, maxEntries: 0 },
        ...options,
      });
      backends.push(backend);
      return backend;
    },
  };
}
