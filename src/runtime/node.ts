/** Node entry: `npm run start:node`. */
import { serve } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { createApp } from "../app/app.ts";
import { readConfig, readListenAddress } from "../config.ts";

const app = createApp(readConfig(process.env), { serveAssets: serveStatic({ root: "./static" }) });
const { port, hostname } = readListenAddress(process.env);

const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(`edge-sse on Node ${process.version}: http://${hostname}:${info.port}/`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
