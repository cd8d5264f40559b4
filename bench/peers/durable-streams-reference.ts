/**
 * Electric's reference Durable Streams server, `@durable-streams/server` 0.3.7, as its README starts
 * it: `new DurableStreamTestServer({ port, host, longPollTimeout })`, streams in memory, on Node. A
 * peer of `npm run bench:streams` (not of this folder's fan-out contract): it serves the protocol at
 * `/v1/stream/*` as edge-sse does. Once listening it creates `/v1/stream/_ready`, the path the
 * benchmark polls to know it is up, and prints the contract's `listening <url>`.
 */
import { DurableStreamTestServer } from "@durable-streams/server";
import { listenAddress } from "./serve.ts";

const { port, hostname } = listenAddress();
// The same long-poll timeout as edge-sse's default (LONG_POLL_TIMEOUT_MS); the benchmark reads live over SSE.
const server = new DurableStreamTestServer({ port, host: hostname, longPollTimeout: 15_000 });
const url = await server.start();
await fetch(`${url}/v1/stream/_ready`, { method: "PUT", headers: { "content-type": "application/json" } });
console.log(`listening ${url}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
