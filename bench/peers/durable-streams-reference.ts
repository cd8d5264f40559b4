/**
 * Electric's reference Durable Streams server, `@durable-streams/server` 0.3.7, as its README starts
 * it: `new DurableStreamTestServer({ port, host, longPollTimeout })`, streams in memory, on Node. A
 * peer of `npm run bench:streams` (not of this folder's fan-out contract): it serves the protocol at
 * `/v1/stream/*` as edge-sse does. Once listening it creates `/v1/stream/_ready`, the path the
 * benchmark polls to know it is up, and prints the contract's `listening <url>`.
 *
 * With `DURABLE=on` it keeps its streams on disk instead (its `dataDir` option: LMDB for the metadata,
 * a segment file per stream, each append fdatasync'ed before it is answered), in a temporary folder
 * of its own, removed when it stops: the peer of edge-sse on a Redis that fsyncs every write.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableStreamTestServer } from "@durable-streams/server";
import { listenAddress, readEnv } from "./serve.ts";

const { port, hostname } = listenAddress();
const dataDir = readEnv("DURABLE") === "on" ? mkdtempSync(join(tmpdir(), "durable-streams-reference-")) : undefined;
// The same long-poll timeout as edge-sse's default (LONG_POLL_TIMEOUT_MS); the benchmark reads live over SSE.
const server = new DurableStreamTestServer({ port, host: hostname, longPollTimeout: 15_000, dataDir });
const url = await server.start();
await fetch(`${url}/v1/stream/_ready`, { method: "PUT", headers: { "content-type": "application/json" } });
console.log(`listening ${url}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
}
