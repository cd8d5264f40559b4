/**
 * The probes an orchestrator or load balancer asks (docs/operations.md): `GET /healthz`, the
 * process lives (restart it if not), and `GET /readyz`, it takes traffic (send it none if not).
 * Mounted before authorization, CORS and rate limits: a probe carries no token and must never be
 * refused for asking too often.
 */
import { Hono } from "hono";
import type { Hub } from "../hub/hub.ts";
import type { OpenStreams } from "../sse/index.ts";
import { errorResponse } from "./errors.ts";

/**
 * Set by the shutdown when its signal arrives, before the server stops accepting (see
 * `SHUTDOWN_DELAY_MS`): from then on `/readyz` answers 503 while everything else is still served.
 */
export interface Readiness {
  draining: boolean;
}

export function healthRoutes(hub: Hub, openStreams: OpenStreams, readiness: Readiness = { draining: false }) {
  const routes = new Hono();
  routes.get("/healthz", (c) => c.json({ status: "ok" }));
  routes.get("/readyz", (c) => {
    // Once shutdown has begun, new streams would be ended at once: send them to another instance.
    if (readiness.draining || openStreams.shuttingDown) {
      return errorResponse(c, 503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
    }
    const backend = hub.backendStatus?.();
    if (backend !== undefined && !backend.connected) {
      return errorResponse(c, 503, "backend_unreachable", `${backend.backend} is not reachable`, {
        "retry-after": "1",
      });
    }
    return c.json({ status: "ready", ...(backend === undefined ? {} : { backend }) });
  });
  return routes;
}
