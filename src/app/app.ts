/**
 * The edge-sse Hono app, the same on every runtime. Runtime entries (src/runtime/) build the
 * config, add static files where the platform does not serve them, and serve `app.fetch`.
 */
import { Hono, type MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import { handleError, handleNotFound } from "./errors.ts";
import { StreamStats } from "./stats.ts";
import { tickerResponse } from "./ticker.ts";

export interface AppOptions {
  /** Serves static/ (the demo page). Workers serve it as assets before the app runs. */
  serveAssets?: MiddlewareHandler;
}

export function createApp(config: Config, options: AppOptions = {}) {
  const stats = new StreamStats();
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
  api.get("/stats", (c) => c.json(stats));
  app.route("/api", api);

  if (options.serveAssets) app.use(options.serveAssets);
  return app;
}
