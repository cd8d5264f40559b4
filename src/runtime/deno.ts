/** Deno entry: `npm run start:deno`. */
import { getConnInfo, serveStatic } from "hono/deno";
import { createServerApp, readServerConfig } from "../app/server-app.ts";
import { shutdownOnSignal } from "../app/shutdown.ts";
import { readListenAddress } from "../config.ts";

const env = Deno.env.toObject();
const config = readServerConfig(env, (code) => Deno.exit(code));
const { app, openStreams } = await createServerApp(config, {
  serveAssets: serveStatic({ root: "./static" }),
  clientAddress: (c) => getConnInfo(c).remote.address,
});
const { port, hostname } = readListenAddress(env);

const server = Deno.serve(
  {
    port,
    hostname,
    onListen: () => console.log(`edge-sse on Deno ${Deno.version.deno}: http://${hostname}:${port}/`),
  },
  app.fetch,
);

const shutdown = shutdownOnSignal({
  openStreams,
  timeoutMs: config.shutdownTimeoutMs,
  // Resolves once the responses in flight have finished: the streams, once they were ended.
  stopServer: () => server.shutdown(),
  exit: (code) => Deno.exit(code),
});
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => shutdown(signal));
