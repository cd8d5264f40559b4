/**
 * The demo chat's answers as durable streams: `ai/chat/{id}`, one per chat (its latest answer). Apart
 * from src/app/chat.ts so that the app can guard these streams without loading the `ai` package.
 */
import type { Context, MiddlewareHandler } from "hono";
import { HttpError } from "./errors.ts";

/** Where the chats' answers are. */
export const ANSWER_STREAMS_PREFIX = "ai/chat/";

/** The durable stream that holds a chat's latest answer. */
export const answerStreamName = (chatId: string) => `${ANSWER_STREAMS_PREFIX}${chatId}`;

/**
 * For the streams routes (`/v1/stream`): an answer's stream is written by its generation only. A
 * create there would squat a chat's next answer, an append would forge one, a close or a delete
 * would cut it short: stop an answer with `DELETE /api/chat/:id/stream`.
 */
export function answerStreamsReadOnly(streamNameOf: (c: Context) => string): MiddlewareHandler {
  return async (c, next) => {
    if (!streamNameOf(c).startsWith(ANSWER_STREAMS_PREFIX)) return next();
    throw new HttpError(
      405,
      "read_only_stream",
      `the streams under ${ANSWER_STREAMS_PREFIX} are the chat's answers: read them here, stop one with DELETE /api/chat/:id/stream`,
      { allow: "GET, HEAD, OPTIONS" },
    );
  };
}
