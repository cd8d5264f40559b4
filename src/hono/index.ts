/** `edge-sse/hono`: a Hono route or middleware as an event stream, with the runtime's details wired. */
export { eventStreamMiddleware, type HonoStreamOptions, streamEvents } from "./stream-events.ts";
