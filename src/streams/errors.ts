/**
 * Errors of the Durable Streams routes: the status the protocol names, in edge-sse's one JSON shape
 * (`{ "error": { "code", "message" } }`), plus the headers the protocol asks some of them to carry
 * (`Stream-Closed` on a 409 for a closed stream, `Producer-Epoch` on a 403...).
 */
import { errorBody } from "../sse/index.ts";

export class StreamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "StreamError";
  }

  toResponse(): Response {
    return Response.json(errorBody(this.code, this.message), { status: this.status, headers: this.headers });
  }
}

export const badRequest = (code: string, message: string) => new StreamError(400, code, message);
