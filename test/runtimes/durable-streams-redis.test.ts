/**
 * Durable streams on Redis (src/hub/redis/redis-log.ts): Electric's conformance suite against Node
 * on a real redis-server.
 */
import { type ConformanceTestOptions, runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const LONG_POLL_TIMEOUT_MS = 1_000;

describe.each(["node"] as const)("the Durable Streams conformance suite on %s (Redis)", (runtime) => {
  const options: ConformanceTestOptions = { baseUrl: "", longPollTimeoutMs: LONG_POLL_TIMEOUT_MS };
  let redis: RunningRedis;
  let server: RunningServer;
  beforeAll(async () => {
    redis = await startRedis();
    server = await startServer(runtime, {
      REDIS_URL: redis.url,
      LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS),
      PUBLISH_RATE_LIMIT: "0",
    });
    options.baseUrl = server.url;
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.dispose();
  });

  runConformanceTests(options);
});
