/** Bun entry: `npm run start:bun`. */
import { getConnInfo, serveStatic } from "hono/bun";
import { createServerApp, readServerConfig } from "../app/server-app.ts";
import { shutdownOnSignal } from "../app/shutdown.ts";
import { readListenAddress } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { logListening } from "../log/startup-log.ts";

const config = readServerConfig(process.env, (code) => process.exit(code));
const logger = createLogger(config.logLevel);
// Loaded only when on: with metrics off, prom-client is never imported.
const metrics = config.metrics ? (await import("../app/metrics.ts")).createMetrics() : undefined;
const { app, openStreams, readiness, hubName } = await createServerApp(config, {
  serveAssets: serveStatic({ root: "./static" }),
  clientAddress: (c) => getConnInfo(c).remote.address,
  logger,
  metrics,
});
const { port, hostname } = readListenAddress(process.env);

const server = Bun.serve({
  port,
  hostname,
  fetch: app.fetch,
  // Bun closes a connection after 10 s without traffic; keep-alive comments are sent more often
  // than that by default, and this leaves room for a longer configured interval (max 255 s).
  idleTimeout: Math.min(255, Math.max(10, Math.ceil((2 * config.keepAliveMs) / 1000))),
});
logListening(logger, config, {
  runtimeName: "Bun",
  version: Bun.version,
  hostname,
  port: server.port ?? port,
  hub: hubName,
});

const shutdown = shutdownOnSignal({
  openStreams,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  readiness,
  // Not stop(true), which would cut the streams before their last bytes are sent: this one
  // resolves once the responses in flight have finished.
  stopServer: () => server.stop(),
  exit: (code) => process.exit(code),
  logger,
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, shutdown);
