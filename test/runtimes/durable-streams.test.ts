/**
 * The Durable Streams protocol at /v1/stream, checked by Electric's own public conformance suite
 * (`@durable-streams/server-conformance-tests`, pinned) against the demo server as a real process
 * on Node, Bun and Deno, each with its streams in memory. LONG_POLL_TIMEOUT_MS=1000, as the suite's
 * long-poll tests wait for the server's timeout; no publish rate limit, as the suite writes
 * hundreds of times from one address.
 */
import { type ConformanceTestOptions, runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll, describe } from "vitest";
import { type RunningServer, startServer } from "../support/server.ts";

const LONG_POLL_TIMEOUT_MS = 1_000;

describe.each(["node", "bun", "deno"] as const)("the Durable Streams conformance suite on %s (memory)", (runtime) => {
  // The suite reads baseUrl when each test runs: it is set once the server is up.
  const options: ConformanceTestOptions = { baseUrl: "", longPollTimeoutMs: LONG_POLL_TIMEOUT_MS };
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, {
      LONG_POLL_TIMEOUT_MS: String(LONG_POLL_TIMEOUT_MS),
      PUBLISH_RATE_LIMIT: "0",
    });
    options.baseUrl = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });

  runConformanceTests(options);
});
