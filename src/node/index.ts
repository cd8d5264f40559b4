/**
 * `edge-sse/node`: SSE streams written straight to `node:http`'s ServerResponse, the fast path
 * for Node servers (see direct-event-streams.ts); and durable streams' request bodies read from
 * `node:http` as it holds them (incoming-body.ts). Needs `@hono/node-server`.
 */
export { directEventStreams, type NodeFetch } from "./direct-event-streams.ts";
export { incomingBody } from "./incoming-body.ts";
export { startOnServerResponse } from "./server-response-transport.ts";
