/**
 * At most `PUBLISH_RATE_LIMIT` publishes a minute per publisher: the verified token's subject when
 * there is one, otherwise the client's address. hono-rate-limiter's in-memory fixed window, so the
 * count is per process, and on Workers per isolate: a publisher whose requests reach several
 * isolates gets that many allowances. A limit to stop a runaway client, not an exact quota.
 * With Redis on, the count lives there (hono-rate-limiter's RedisStore), shared by every process.
 */
import type { MiddlewareHandler } from "hono";
import { rateLimiter, type Store } from "hono-rate-limiter";
import type { Config } from "../config.ts";
import { errorResponse } from "./errors.ts";

const WINDOW_MS = 60_000;

/** `store`: where the counts are kept; default this process's memory. */
export function publishRateLimit(config: Config, store?: Store): MiddlewareHandler {
  const limit = config.publishRateLimit;
  if (limit === 0) return (_c, next) => next();
  return rateLimiter({
    windowMs: WINDOW_MS,
    limit,
    ...(store === undefined ? {} : { store }),
    // RateLimit-* headers on every publish, and Retry-After on the 429.
    standardHeaders: "draft-6",
    keyGenerator: (c) => {
      const subject = c.get("tokenSubject");
      // Prefixed, so that a token's subject can never share a count with an address.
      if (subject !== undefined) return `subject:${subject}`;
      // Without an address (an entry that cannot tell) every such publisher shares one count.
      return `address:${c.get("clientAddress") ?? "unknown"}`;
    },
    handler: (c) =>
      errorResponse(c, 429, "rate_limited", `at most ${limit} messages a minute; try again after Retry-After seconds`),
  });
}
