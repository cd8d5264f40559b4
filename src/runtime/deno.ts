/** Deno entry: `npm run start:deno`. */
import { getConnInfo, serveStatic } from "hono/deno";
import { createApp } from "../app/app.ts";
import { readConfig, readListenAddress } from "../config.ts";

const env = Deno.env.toObject();
const app = createApp(readConfig(env), {
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

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    // Not `await server.shutdown()`: it waits for every open stream, which never ends by itself.
    void server.shutdown();
    Deno.exit(0);
  });
}
