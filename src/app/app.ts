/**
 * The edge-sse Hono app, the same on every runtime. Runtime entries (src/runtime/) build the
 * config, choose the hub, add static files where the platform does not serve them, and serve
 * `app.fetch`.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { type Config, streamSettings } from "../config.ts";
import type { Hub } from "../hub/hub.ts";
import { MemoryHub } from "../hub/memory.ts";
import { StreamStats } from "../sse/index.ts";
import { handleError, handleNotFound } from "./errors.ts";
import { DEFAULT_CHANNEL, messageRoutes, streamResponse } from "./messages.ts";
import { tickerResponse } from "./ticker.ts";

export interface AppOptions {
  /** Serves static/ (the demo page). Workers serve it as assets before the app runs. */
  serveAssets?: MiddlewareHandler;
  /** Where channels live. Default: this process's memory (Node, Bun, Deno). */
  hub?: Hub;
}

export function createApp(config: Config, options: AppOptions = {}) {
  const stats = new StreamStats();
  const hub = options.hub ?? new MemoryHub(config.historyLimit, streamSettings(config), stats);
  const app = new Hono();
  app.onError(handleError);
  app.notFound(handleNotFound);

  // The seed's "Alternative #1": middleware that answers one path and passes everything else on.
  app.use(async (c, next) => {
    if (c.req.path !== "/sse" || c.req.method !== "GET") return next();
    return tickerResponse(c, "Middleware", config, stats);
  });

  // "Alternative #2": a route on a sub-app, as the seed's controller at /api/sse.
  const api = new Hono();
  api.get("/sse", (c) => tickerResponse(c, "Controller", config, stats));

  const messages = messageRoutes(hub);
  api.route("/messages", messages);
  api.route("/channels/:channel/messages", messages);
  // The seed's own path for the message stream.
  api.get("/ssemessages", (c) => streamResponse(c, hub, DEFAULT_CHANNEL));

  api.get("/stats", async (c) => {
    const channels = await hub.stats();
    const subscribers = Object.values(channels).reduce((sum, channel) => sum + channel.subscribers, 0);
    return c.json({ ...stats.toJSON(), subscribers, channels });
  });
  app.route("/api", api);

  if (options.serveAssets) app.use(options.serveAssets);
  return app;
}
