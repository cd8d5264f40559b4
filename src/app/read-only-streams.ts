/**
 * For the streams routes (`/v1/stream`): streams under a prefix that only the server writes (a
 * channel's, a chat's answers). A create there would squat one, an append would forge an event, a
 * close or a delete would cut it short; reading is as for any stream.
 */
import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "./errors.ts";

export function readOnlyStreams(
  streamNameOf: (c: Context) => string,
  prefix: string,
  /** What the streams are and how they are written instead. */
  why: string,
): MiddlewareHandler {
  return async (c, next) => {
    if (!streamNameOf(c).startsWith(prefix)) return next();
    throw new HttpError(405, "read_only_stream", `the streams under ${prefix} are ${why}`, {
      allow: "GET, HEAD, OPTIONS",
    });
  };
}
