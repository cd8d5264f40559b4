/**
 * `edge-sse/ai`: answers that outlive their request, in the AI SDK's shapes. `startAnswer` runs a
 * generation to its end into a durable stream, whoever reads it; `answerResponse` reads it back as
 * the UI message stream `useChat` reads, from its first chunk, live, to its end.
 *
 * ```ts
 * import { answerResponse, startAnswer } from "edge-sse/ai";
 * import { MemoryLog } from "edge-sse/streams";
 *
 * const log = new MemoryLog();
 * await startAnswer({
 *   log,
 *   name: `chat/${id}`,
 *   source: (signal) => streamText({ model, messages, abortSignal: signal }).toUIMessageStream(),
 * });
 * return answerResponse({ log, name: `chat/${id}` }); // and again for every resume
 * ```
 *
 * Needs no `ai` package itself: any async iterable of JSON chunks is an answer.
 */

export {
  type Answer,
  type AnswerEnd,
  type AnswerOptions,
  AnswerStartError,
  type ChunkSource,
  HEARTBEAT_CHUNK_TYPE,
  type StopResult,
  startAnswer,
  stopAnswer,
} from "./answer.ts";
export {
  ANSWER_LOST_ERROR,
  type AnswerResponseOptions,
  answerResponse,
  DIVERGED_ERROR,
  DONE,
  PRODUCER_GONE_ERROR,
  UI_MESSAGE_STREAM_HEADERS,
} from "./answer-response.ts";
