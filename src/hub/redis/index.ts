/**
 * `edge-sse/hub/redis`: channels shared by every process on one Redis (Node, Bun, Deno; Redis 7+),
 * behind the same `Hub` interface as `MemoryHub`, and durable streams behind the same `StreamLog`
 * as `MemoryLog` (`connectRedis` gives both, on the same connections). Its own entry, not part of `edge-sse/hub`:
 * bundlers follow even a dynamic `import("redis")`, and a Worker that imports `edge-sse/hub` for
 * `Channel` must not get node-redis in its bundle. Needs the `redis` package (an optional peer).
 */
export { BackendUnavailableError } from "../backend-unavailable.ts";
export { connectRedis, connectRedisHub, type RedisBackend, type RedisConnectOptions } from "./connect.ts";
export type { RedisConnection, RedisHub, RedisHubOptions } from "./hub.ts";
export type { RedisLog, RedisLogOptions } from "./redis-log.ts";
