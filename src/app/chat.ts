/**
 * The demo chat at /api/chat, in the shape the AI SDK's `DefaultChatTransport` expects, so that
 * `useChat({ id, resume: true })` works with no custom transport:
 * - `POST /api/chat` (`{ id, messages, trigger, messageId }`) starts an answer and answers its UI
 *   message stream; the answer runs to its end whether or not this request stays;
 * - `GET /api/chat/:id/stream` answers 204 when the chat has no answer to resume (none, or one that
 *   ended more than CHAT_ANSWER_TTL_SECONDS ago), else the answer from its first chunk, live, to its end;
 * - `DELETE /api/chat/:id/stream` stops the answer in flight (useChat's `stop()` only disconnects in
 *   resume mode): the model is asked for nothing more and every reader gets an abort chunk, the end;
 * - `GET /api/chat/stats`: answers in flight here, and the tokens the demo model produced.
 *
 * Each chat's latest answer is the durable stream `ai/chat/{id}` of the app's log: what is in flight,
 * and its stop, are decided from the log alone (a stop closes the stream, and the generating process
 * hears it through `watch`), so this runs unchanged on any backend's log. Being a durable stream, an
 * answer can also be read at /v1/stream/ai/chat/{id}, under the same rules as any stream.
 */
import { convertToModelMessages, streamText, type UIMessage } from "ai";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { AnswerStartError, answerResponse, startAnswer } from "../ai/index.ts";
import type { Config } from "../config.ts";
import type { StreamLog } from "../hub/log.ts";
import type { EventStreamOptions } from "../sse/index.ts";
import { demoModel } from "./demo-model.ts";
import { HttpError } from "./errors.ts";
import { parseOrThrow } from "./validation.ts";

export interface ChatRoutesOptions {
  log: StreamLog;
  /** The SSE options of a reader's stream (caps, keep-alive, the request's signal). */
  eventStreamOptions: (c: Context) => EventStreamOptions;
}

/** The chat's settings (see src/config.ts: DEMO_MODEL_DELAY_MS, CHAT_ANSWER_TTL_SECONDS, CHAT_MAX_ANSWERS_PER_CLIENT). */
export type ChatSettings = Pick<Config, "demoModelDelayMs" | "chatAnswerTtlSeconds" | "chatMaxAnswersPerClient">;

/** The chat's routes over the app's log, as createApp mounts them (AppOptions.chat). */
export type ChatRoutes = (options: ChatRoutesOptions) => Hono;

/** The demo chat with these settings, for AppOptions.chat. */
export const chatRoutesWith =
  (settings: ChatSettings): ChatRoutes =>
  (options) =>
    chatRoutes({ ...options, settings });

/** The durable stream that holds a chat's latest answer. */
export const answerStreamName = (chatId: string) => `ai/chat/${chatId}`;

// A conversation of a hundred long messages fits; a body meant to fill memory does not.
const MAX_BODY_BYTES = 1024 * 1024;
// An answer takes seconds: a client over its cap may try again soon.
const TOO_MANY_ANSWERS_RETRY_AFTER_SECONDS = "5";

// What `DefaultChatTransport` accepts as a chat id in its default URLs, kept to URL-safe characters.
const chatIdSchema = z.string().regex(/^(?!\.{1,2}$)[\w.~:-]{1,128}$/, "1 to 128 of A-Z a-z 0-9 _ . ~ : -");

const chatRequestSchema = z.object({
  id: chatIdSchema,
  messages: z
    .array(
      z.looseObject({
        id: z.string(),
        role: z.enum(["system", "user", "assistant"]),
        parts: z.array(z.looseObject({ type: z.string() })),
      }),
    )
    .min(1)
    .max(1_000),
  trigger: z.enum(["submit-message", "regenerate-message"]).optional(),
  messageId: z.string().optional(),
});

export function chatRoutes(options: ChatRoutesOptions & { settings: ChatSettings }): Hono {
  const { log, settings } = options;
  // This process's answers in flight: per chat (one at a time) and per client (the cap).
  const inFlight = new Set<string>();
  const perClient = new Map<string, number>();
  let modelTokens = 0;

  const release = (chatId: string, client: string) => {
    inFlight.delete(chatId);
    const count = (perClient.get(client) ?? 1) - 1;
    if (count > 0) perClient.set(client, count);
    else perClient.delete(client);
  };

  const readerOf = (c: Context, chatId: string) =>
    answerResponse({
      log,
      name: answerStreamName(chatId),
      stream: { ...options.eventStreamOptions(c), kind: "answer", channel: answerStreamName(chatId) },
    });

  const routes = new Hono();

  routes.post("/", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge }), async (c) => {
    const body = await c.req.json().catch(() => {
      throw new HttpError(400, "invalid_json", "the body is not valid JSON");
    });
    const request = parseOrThrow(chatRequestSchema, body, "chat");
    const chatId = request.id;
    const name = answerStreamName(chatId);
    const client = c.get("clientAddress") ?? "unknown";
    if (inFlight.has(chatId)) throw answerInFlight();
    if (settings.chatMaxAnswersPerClient > 0 && (perClient.get(client) ?? 0) >= settings.chatMaxAnswersPerClient) {
      throw new HttpError(429, "too_many_answers", "this client has as many answers in flight as it may", {
        "retry-after": TOO_MANY_ANSWERS_RETRY_AFTER_SECONDS,
      });
    }
    // Taken before the first await, so that a second request for the same chat sees it.
    inFlight.add(chatId);
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    try {
      const previous = await log.head(name);
      // In flight elsewhere (another process on the same log).
      if (previous.kind === "found" && !previous.record.closed) throw answerInFlight();
      // The chat's last answer, finished: this one takes its place.
      if (previous.kind !== "not-found") await log.delete(name);
      const messages = request.messages as unknown as UIMessage[];
      const modelMessages = await convertToModelMessages(messages);
      const answer = await startAnswer({
        log,
        name,
        ttlSeconds: settings.chatAnswerTtlSeconds,
        source: (signal) =>
          streamText({
            model: demoModel({ delayMs: settings.demoModelDelayMs, onToken: () => modelTokens++ }),
            messages: modelMessages,
            abortSignal: signal,
          }).toUIMessageStream({ originalMessages: messages, generateMessageId: () => crypto.randomUUID() }),
      });
      void answer.ended.finally(() => release(chatId, client));
    } catch (error) {
      release(chatId, client);
      if (error instanceof AnswerStartError) throw answerInFlight();
      throw error;
    }
    return readerOf(c, chatId);
  });

  routes.get("/stats", (c) => c.json({ answersInFlight: inFlight.size, modelTokens }));

  routes.get("/:id/stream", async (c) => {
    const chatId = parseOrThrow(chatIdSchema, c.req.param("id"), "chat_id");
    const answer = await log.head(answerStreamName(chatId));
    // None, or expired: CHAT_ANSWER_TTL_SECONDS after its last read or write.
    if (answer.kind !== "found") return c.body(null, 204);
    return readerOf(c, chatId);
  });

  routes.delete("/:id/stream", async (c) => {
    const chatId = parseOrThrow(chatIdSchema, c.req.param("id"), "chat_id");
    // Closing the stream is the stop: readers get the abort chunk and the end at once, and the
    // process that generates it (this one, or any other on the same log) hears the close and
    // aborts its model call.
    const stopped = await log.append(answerStreamName(chatId), {
      entries: [new TextEncoder().encode(JSON.stringify({ type: "abort", reason: "stopped" }))],
      contentType: "application/json",
      close: true,
      streamSeq: undefined,
      producer: undefined,
    });
    if (stopped.kind === "appended" && stopped.stored) return c.body(null, 204);
    throw new HttpError(404, "no_answer_in_flight", `chat ${chatId} has no answer in flight`);
  });

  return routes;
}

function answerInFlight(): HttpError {
  return new HttpError(409, "answer_in_flight", "this chat has an answer in flight: stop it or wait for its end");
}

function tooLarge(): never {
  throw new HttpError(413, "body_too_large", `a chat request is at most ${MAX_BODY_BYTES} bytes`);
}
