/**
 * Errors of the Durable Streams routes: the status the protocol names, answered by the routes' error
 * handler in edge-sse's one JSON shape (`{ "error": { "code", "message" } }`), plus the headers the
 * protocol asks some of them to carry (`Stream-Closed` on a 409 for a closed stream, `Producer-Epoch`
 * on a 403...).
 */
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
}

export const badRequest = (code: string, message: string) => new StreamError(400, code, message);
