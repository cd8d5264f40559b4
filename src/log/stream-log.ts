/**
 * What the log says about streams, as an `OpenStreams` close hook: a client dropped for reading too
 * slowly (overflow) or not at all (stalled) is a warning an operator wants to see, with the channel
 * and the client's address; a failed event source is an error; every other end is routine and
 * logged at debug only, so the default log stays quiet with thousands of clients coming and going.
 */
import type { CloseReason, SseStream } from "../sse/index.ts";
import type { Logger } from "./logger.ts";

export function logStreamClosed(logger: Logger) {
  return (stream: SseStream, reason: CloseReason, error: unknown) => {
    const fields = { reason, kind: stream.kind, channel: stream.channel, client: stream.client };
    if (reason === "overflow" || reason === "stalled") {
      logger.warn("stream dropped", { ...fields, detail: error instanceof Error ? error.message : undefined });
    } else if (reason === "source-error") {
      logger.error("event source failed", { ...fields, error });
    } else {
      logger.debug("stream closed", fields);
    }
  };
}
