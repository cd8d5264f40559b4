/**
 * The one JSON shape for every HTTP error: `{ "error": { "code", "message" } }`, built here only.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { BackendUnavailableError } from "../hub/backend-unavailable.ts";
import { errorBody, StreamCapError } from "../sse/index.ts";

/** Thrown by handlers and validators; `handleError` turns it into the JSON answer. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** Sent with the answer: `WWW-Authenticate` on a 401, for example. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return c.json(errorBody(code, message), status, headers);
}

// A full server frees places only as clients leave: ask again in a while, not at once.
const STREAM_CAP_RETRY_AFTER_SECONDS = "10";
// A backend that cannot be reached is usually back within seconds (a restart, a failover).
const BACKEND_RETRY_AFTER_SECONDS = "2";

export const handleError: ErrorHandler = (error, c) => {
  if (error instanceof HttpError) return errorResponse(c, error.status, error.code, error.message, error.headers);
  if (error instanceof StreamCapError) {
    const headers = { "retry-after": STREAM_CAP_RETRY_AFTER_SECONDS };
    return error.cap === "streams"
      ? errorResponse(c, 503, "too_many_streams", "the server holds as many streams as it may", headers)
      : errorResponse(c, 429, "too_many_client_streams", "this client holds as many streams as it may", headers);
  }
  if (error instanceof BackendUnavailableError) {
    // Nothing was done: the request may be sent again as it is.
    return errorResponse(c, 503, "backend_unavailable", `${error.backend} cannot be reached: try again shortly`, {
      "retry-after": BACKEND_RETRY_AFTER_SECONDS,
    });
  }
  // Hono's own middleware throws these (for example a body that is not JSON).
  if (error instanceof HTTPException) {
    return errorResponse(c, error.status as ContentfulStatusCode, "bad_request", error.message || "bad request");
  }
  // The path only: a query may carry a token (?authorization=). The app's logger is in the context.
  c.get("logger").error("unhandled error", { method: c.req.method, path: c.req.path, error });
  return errorResponse(c, 500, "internal", "internal server error");
};

export const handleNotFound: NotFoundHandler = (c) =>
  errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${c.req.path}`);
