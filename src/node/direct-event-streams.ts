/**
 * The `node:http` fast path as one function around an app's `fetch`: every `eventStream` response
 * (from edge-sse or edge-sse/hono) with its `text/event-stream` content type is written straight to
 * the ServerResponse; any other response goes to `@hono/node-server` as usual. Measured
 * (docs/benchmarks.md): through @hono/node-server's body copy edge-sse fanned out about 65k events/s,
 * against 106k for a bare node:http server.
 */
import { ServerResponse } from "node:http";
import type { Http2Bindings, HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { takeOver } from "../sse/index.ts";
import { startOnServerResponse } from "./server-response-transport.ts";

/** What `@hono/node-server`'s `serve({ fetch })` calls. */
export type NodeFetch = (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;

/**
 * Wraps `fetch` (a Hono app's `app.fetch`, or any fetch handler) for `serve({ fetch })` of
 * `@hono/node-server`: `serve({ fetch: directEventStreams(app.fetch), port })`.
 */
export function directEventStreams(fetch: NodeFetch): NodeFetch {
  return async (request, env) => {
    const response = await fetch(request, env);
    // HTTP/2 responses (Http2ServerResponse) go the usual way.
    if (!(env.outgoing instanceof ServerResponse)) return response;
    // Only an event stream (always a 200) can be taken over, and reading any other response's
    // `body` would turn @hono/node-server's light response (status, headers, body kept as given)
    // into a full web Response, which it then sends by its slower path: skip those by their status
    // and content type. The status first: reading `headers` of a light response made with a plain
    // object (a durable stream's write answer) builds a `Headers` from it.
    if (response.status !== 200 || !response.headers.get("content-type")?.startsWith("text/event-stream")) {
      return response;
    }
    const stream = takeOver(response);
    if (stream === undefined) return response;
    startOnServerResponse(stream, response, env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
}
