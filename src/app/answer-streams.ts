/**
 * The demo chat's answers as durable streams: `ai/chat/{id}`, one per chat (its latest answer). Apart
 * from src/app/chat.ts so that the app can guard these streams without loading the `ai` package.
 */
import type { ReadOnlyPrefix } from "./read-only-streams.ts";

/** Where the chats' answers are. */
export const ANSWER_STREAMS_PREFIX = "ai/chat/";

/** The durable stream that holds a chat's latest answer. */
export const answerStreamName = (chatId: string) => `${ANSWER_STREAMS_PREFIX}${chatId}`;

/**
 * For the streams routes (`/v1/stream`): an answer's stream is written by its generation only (a
 * create would squat a chat's next answer, an append forge one, a close or a delete cut it short).
 */
export const ANSWER_STREAMS_READ_ONLY: ReadOnlyPrefix = {
  prefix: ANSWER_STREAMS_PREFIX,
  why: "the chat's answers: read them here, stop one with DELETE /api/chat/:id/stream",
};
