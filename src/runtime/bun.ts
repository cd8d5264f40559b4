/** Bun entry: `npm run start:bun`. */
import { getConnInfo, serveStatic } from "hono/bun";
import { createServerApp, readServerConfig } from "../app/server-app.ts";
import { shutdownOnSignal } from "../app/shutdown.ts";
import { readListenAddress } from "../config.ts";

const config = readServerConfig(process.env, (code) => process.exit(code));
const { app, openStreams } = await createServerApp(config, {
  serveAssets: serveStatic({ root: "./static" }),
  clientAddress: (c) => getConnInfo(c).remote.address,
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
console.log(`edge-sse on Bun ${Bun.version}: http://${hostname}:${server.port}/`);

const shutdown = shutdownOnSignal({
  openStreams,
  timeoutMs: config.shutdownTimeoutMs,
  // Not stop(true), which would cut the streams before their last bytes are sent: this one
  // resolves once the responses in flight have finished.
  stopServer: () => server.stop(),
  exit: (code) => process.exit(code),
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, shutdown);
