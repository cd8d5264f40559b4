/**
 * For the streams routes (`/v1/stream`): streams under a prefix that only the server writes (a
 * channel's, a chat's answers). A create there would squat one, an append would forge an event, a
 * close or a delete would cut it short; reading is as for any stream.
 */
import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "./errors.ts";

/** The streams under `prefix`, and `why`: what they are and how they are written instead. */
export interface ReadOnlyPrefix {
  prefix: string;
  why: string;
}

/** One check for every prefix, run on each write: not one middleware (and one more await) per prefix. */
export function readOnlyStreams(
  streamNameOf: (c: Context) => string,
  prefixes: readonly ReadOnlyPrefix[],
): MiddlewareHandler {
  return (c, next) => {
    const name = streamNameOf(c);
    for (const { prefix, why } of prefixes) {
      if (name.startsWith(prefix)) {
        throw new HttpError(405, "read_only_stream", `the streams under ${prefix} are ${why}`, {
          allow: "GET, HEAD, OPTIONS",
        });
      }
    }
    return next();
  };
}
