/**
 * The Durable Streams protocol at /v1/stream on Workers (`wrangler dev`), checked by Electric's
 * conformance suite (`@durable-streams/server-conformance-tests`, pinned): each stream in its own
 * `StreamObject`, readers held by Worker requests that watch it over a WebSocket. Settings as for
 * Node, Bun and Deno (durable-streams.test.ts), and no cap of streams per client: every reader of
 * the suite comes from 127.0.0.1.
 */
import { type ConformanceTestOptions, runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningServer, startServer } from "../support/server.ts";

const LONG_POLL_TIMEOUT_MS = 1_000;

describe("the Durable Streams conformance suite on workerd (Durable Objects)", () => {
  // The suite reads baseUrl when each test runs: it is set once the server is up.
  const options: ConformanceTestOptions = { baseUrl: "", longPollTimeoutMs: LONG_POLL_TIMEOUT_MS };
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer("workerd", {
      LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS),
      PUBLISH_RATE_LIMIT: "0",
      MAX_STREAMS_PER_CLIENT: "0",
    });
    options.baseUrl = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });

  runConformanceTests(options);
});
