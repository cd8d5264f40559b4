/**
 * `edge-sse/node`: SSE streams written straight to `node:http`'s ServerResponse, the fast path
 * for Node servers (see direct-event-streams.ts). Needs `@hono/node-server`.
 */
export { directEventStreams, type NodeFetch } from "./direct-event-streams.ts";
export { startOnServerResponse } from "./server-response-transport.ts";
