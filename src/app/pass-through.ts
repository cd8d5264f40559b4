/**
 * The middleware that does nothing: what a check that is off is (authorization without AUTH_SECRET,
 * the publish rate limit at 0), one function, so that a chain of checks can leave it out.
 */
import type { MiddlewareHandler } from "hono";

export const passThrough: MiddlewareHandler = (_c, next) => next();
