/**
 * `edge-sse/streams`: the Durable Streams protocol as a Hono sub-app over any backend's log.
 *
 * ```ts
 * import { durableStreams, MemoryLog } from "edge-sse/streams";
 * app.route("/v1/stream", durableStreams({ log: new MemoryLog() }));
 * ```
 */

export type { StreamLog } from "../hub/log.ts";
export { MemoryLog } from "../hub/memory/memory-log.ts";
export { type DurableStreamsOptions, durableStreams, streamNameOf } from "./app.ts";
export { formatOffset, parseOffset } from "./offset.ts";
