/** Node entry: `npm run start:node`. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { serveStatic } from "@hono/node-server/serve-static";
import { createServerApp, readServerConfig } from "../app/server-app.ts";
import { shutdownOnSignal } from "../app/shutdown.ts";
import { readListenAddress } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { logListening } from "../log/startup-log.ts";
import { directEventStreams, incomingBody } from "../node/index.ts";

const config = readServerConfig(process.env, (code) => process.exit(code));
const logger = createLogger(config.logLevel);
// Loaded only when on: with metrics off, prom-client is never imported.
const metrics = config.metrics ? (await import("../app/metrics.ts")).createMetrics() : undefined;
const { app, openStreams, readiness, hubName } = await createServerApp(config, {
  serveAssets: serveStatic({ root: "./static" }),
  clientAddress: (c) => getConnInfo(c).remote.address,
  requestBody: incomingBody,
  logger,
  metrics,
});
const { port, hostname } = readListenAddress(process.env);

// The app, with its SSE responses written straight to Node's ServerResponse.
const server = serve({ fetch: directEventStreams(app.fetch), port, hostname }, (info) => {
  logListening(logger, config, {
    runtimeName: "Node",
    version: process.version,
    hostname,
    port: info.port,
    hub: hubName,
  });
});

// Even after close(), Node keeps a connection open for keepAliveTimeout (5 s) after its last
// response (measured: an ended stream's connection held the exit). So once closing, end each
// connection when its response has been sent ('finish'). Not closeIdleConnections(): it counts a
// response as done once end() was called, and would cut a stream whose last bytes still wait.
let closing = false;
server.on("request", (request: IncomingMessage, response: ServerResponse) => {
  response.on("finish", () => {
    if (closing) request.socket.end();
  });
});

const shutdown = shutdownOnSignal({
  openStreams,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  readiness,
  // The callback runs once every connection has closed, so every ended stream was written out.
  stopServer: () =>
    new Promise((resolve) => {
      closing = true;
      server.close(resolve);
    }),
  exit: (code) => process.exit(code),
  logger,
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, shutdown);
