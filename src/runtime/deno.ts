/** Deno entry: `npm run start:deno`. */
import { getConnInfo, serveStatic } from "hono/deno";
import { createServerApp, readServerConfig } from "../app/server-app.ts";
import { shutdownOnSignal } from "../app/shutdown.ts";
import { readListenAddress } from "../config.ts";
import { createLogger } from "../log/logger.ts";
import { logListening } from "../log/startup-log.ts";

const env = Deno.env.toObject();
const config = readServerConfig(env, (code) => Deno.exit(code));
const logger = createLogger(config.logLevel);
// Loaded only when on: with metrics off, prom-client is never imported.
const metrics = config.metrics ? (await import("../app/metrics.ts")).createMetrics() : undefined;
const { app, openStreams, readiness, hubName } = await createServerApp(config, {
  serveAssets: serveStatic({ root: "./static" }),
  clientAddress: (c) => getConnInfo(c).remote.address,
  logger,
  metrics,
});
const { port, hostname } = readListenAddress(env);

const server = Deno.serve(
  {
    port,
    hostname,
    onListen: () =>
      logListening(logger, config, { runtimeName: "Deno", version: Deno.version.deno, hostname, port, hub: hubName }),
  },
  app.fetch,
);

const shutdown = shutdownOnSignal({
  openStreams,
  timeoutMs: config.shutdownTimeoutMs,
  delayMs: config.shutdownDelayMs,
  readiness,
  // Resolves once the responses in flight have finished: the streams, once they were ended.
  stopServer: () => server.shutdown(),
  exit: (code) => Deno.exit(code),
  logger,
});
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => shutdown(signal));
