/**
 * Hono routes as event streams, in one line: `app.get("/ticks", (c) => streamEvents(c, ticks()))`.
 * The helper wires what differs by runtime (../shared/FINDINGS.md): workerd never cancels a
 * body whose client left, so there the stream also ends on the request's signal (with the
 * `enable_request_signal` compatibility flag); Node, Bun and Deno do cancel it, and there the
 * signal is left alone, as a listener cost about 500 bytes per idle connection on Bun.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getRuntimeKey } from "hono/adapter";
import {
  type AnyEvents,
  type EventSource,
  type EventStreamOptions,
  eventStream,
  type IterableSource,
} from "../sse/index.ts";

/** `eventStream`'s options, and whether to end the stream on the request's signal. */
export interface HonoStreamOptions extends EventStreamOptions {
  /**
   * Whether the stream ends when the request's signal aborts. Default: off on Node, Bun and
   * Deno, which cancel the body when the client leaves; on everywhere else (workerd needs it).
   * An explicit `signal` is used as given.
   */
  useRequestSignal?: boolean;
}

/** Runtimes that cancel a response body when its client leaves (measured, FINDINGS.md). */
const CANCELS_BODY = new Set(["node", "bun", "deno"]);

/**
 * The event stream response for this request, fed by `source` (a function given the sink, or an
 * async iterable such as an async generator or a `ReadableStream`). For HEAD, the same status and
 * headers, and the source is released at once: Hono answers HEAD with the GET route, and a body
 * nobody reads would keep its stream open.
 */
export function streamEvents<Events extends object = AnyEvents>(
  c: Context,
  source: EventSource<Events> | IterableSource<Events>,
  options: HonoStreamOptions = {},
): Response {
  const { useRequestSignal = !CANCELS_BODY.has(getRuntimeKey()), ...streamOptions } = options;
  if (useRequestSignal && streamOptions.signal === undefined) streamOptions.signal = c.req.raw.signal;
  const response = eventStream(source, streamOptions);
  if (c.req.method !== "HEAD") return response;
  response.body?.cancel();
  return new Response(null, response);
}

/**
 * The middleware form, for `app.use(path, ...)`: answers GET and HEAD with the event stream of
 * `source(c)`, and passes every other method on. `options` may depend on the request.
 */
export function eventStreamMiddleware<Events extends object = AnyEvents>(
  source: (c: Context) => EventSource<Events> | IterableSource<Events>,
  options: HonoStreamOptions | ((c: Context) => HonoStreamOptions) = {},
): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
    return streamEvents(c, source(c), typeof options === "function" ? options(c) : options);
  };
}
