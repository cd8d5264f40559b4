/**
 * At most `PUBLISH_RATE_LIMIT` publishes a minute per publisher: the verified token's subject when
 * there is one, otherwise the client's address. hono-rate-limiter's in-memory fixed window, so the
 * count is per process, and on Workers per isolate: a publisher whose requests reach several
 * isolates gets that many allowances. A limit to stop a runaway client, not an exact quota.
 * With Redis on, the count lives there (hono-rate-limiter's RedisStore), shared by every process.
 */
import type { Context, MiddlewareHandler } from "hono";
import { type RateLimitInfo, rateLimiter, type Store } from "hono-rate-limiter";
import type { Config } from "../config.ts";
import { errorResponse } from "./errors.ts";
import { passThrough } from "./pass-through.ts";

const WINDOW_MS = 60_000;

/** `store`: where the counts are kept; default this process's memory. */
export function publishRateLimit(config: Config, store?: Store): MiddlewareHandler {
  const limit = config.publishRateLimit;
  if (limit === 0) return passThrough;
  const limiter = rateLimiter({
    windowMs: WINDOW_MS,
    limit,
    ...(store === undefined ? {} : { store }),
    // Set on the answer below, once it is made: hono-rate-limiter's own headers are staged with
    // c.header before the handler, which an answer the handler makes itself leaves out (a durable
    // stream's write: src/streams/app.ts).
    standardHeaders: false,
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
  return async (c, next) => {
    const refused = await limiter(c, next);
    const info = (c as Context<{ Variables: { rateLimit?: RateLimitInfo } }>).get("rateLimit");
    if (info !== undefined) setLimitHeaders((refused ?? c.res).headers, info, refused !== undefined);
    return refused;
  };
}

/**
 * RateLimit-* on every publish's answer, and Retry-After on the 429: the draft-6 headers
 * (draft-ietf-httpapi-ratelimit-headers-06), as hono-rate-limiter's `standardHeaders: "draft-6"`.
 */
function setLimitHeaders(headers: Headers, info: RateLimitInfo, refused: boolean): void {
  const resetMs = info.resetTime === undefined ? WINDOW_MS : info.resetTime.getTime() - Date.now();
  const resetSeconds = Math.max(0, Math.ceil(resetMs / 1000));
  headers.set("ratelimit-policy", `${info.limit};w=${WINDOW_MS / 1000}`);
  headers.set("ratelimit-limit", String(info.limit));
  headers.set("ratelimit-remaining", String(info.remaining));
  if (info.resetTime !== undefined && resetSeconds > 0) headers.set("ratelimit-reset", String(resetSeconds));
  if (refused) headers.set("retry-after", String(resetSeconds));
}
