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
 * and its stop, are decided from the log (a stop made on another process closes the stream, and the
 * generating process hears it through `watch`), so this runs unchanged on any backend's log. Being a durable stream, an
 * answer can also be read at /v1/stream/ai/chat/{id}; it is written only by its generation (the
 * streams routes refuse writes there: `ANSWER_STREAMS_READ_ONLY`).
 *
 * Where answers are generated is `ChatAnswers`: in this process (`LocalChatAnswers`, Node, Bun and
 * Deno), or in a Durable Object of the client's (src/runtime/answers-object.ts, Workers), which also
 * holds the per-client cap there. With AUTH_SECRET set, starting or stopping an answer needs a token
 * whose `sse.publish` names `ai/chat/{id}`, and reading it one whose `sse.subscribe` does
 * (src/app/authorization.ts; answers are private whatever PRIVATE_CHANNELS says).
 */
import { convertToModelMessages, streamText, type UIMessage } from "ai";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { AnswerStartError, answerResponse, startAnswer, stopAnswer } from "../ai/index.ts";
import type { Config } from "../config.ts";
import type { StreamLog } from "../hub/log.ts";
import type { EventStreamOptions } from "../sse/index.ts";
import { answerStreamName } from "./answer-streams.ts";
import type { ChannelAccess } from "./authorization.ts";
import { demoModel } from "./demo-model.ts";
import { HttpError } from "./errors.ts";
import { parseOrThrow } from "./validation.ts";

export interface ChatRoutesOptions {
  log: StreamLog;
  /** The SSE options of a reader's stream (caps, keep-alive, the request's signal). */
  eventStreamOptions: (c: Context) => EventStreamOptions;
  /** Who may start, stop and read which answer (the app's, with answers private). Default: anyone. */
  access?: ChannelAccess;
  /**
   * Counts each start and stop, after the token is checked (the app's PUBLISH_RATE_LIMIT: an answer
   * costs more than a publish). Default: none.
   */
  rateLimit?: MiddlewareHandler;
}

/** The chat's settings (see src/config.ts: DEMO_MODEL_DELAY_MS, CHAT_ANSWER_TTL_SECONDS, CHAT_MAX_ANSWERS_PER_CLIENT). */
export type ChatSettings = Pick<Config, "demoModelDelayMs" | "chatAnswerTtlSeconds" | "chatMaxAnswersPerClient">;

/** The chat's routes over the app's log, as createApp mounts them (AppOptions.chat). */
export type ChatRoutes = (options: ChatRoutesOptions) => Hono;

/**
 * The demo chat with these settings, for AppOptions.chat. `answers` says where answers are
 * generated; default: in this process, on the app's log.
 */
export const chatRoutesWith =
  (settings: ChatSettings, answers?: ChatAnswers): ChatRoutes =>
  (options) =>
    chatRoutes({ ...options, answers: answers ?? new LocalChatAnswers(options.log, settings) });

/** A chat request as `DefaultChatTransport` sends it, validated. */
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** What came of asking for an answer. */
export type AnswerStart =
  | { kind: "started" }
  | { kind: "in-flight" } // the chat has an answer in flight (here or on another process)
  | { kind: "too-many" }; // the client has CHAT_MAX_ANSWERS_PER_CLIENT answers in flight

/** What `/api/chat/stats` shows. */
export interface ChatStats {
  answersInFlight: number;
  /** Tokens the demo model produced. */
  modelTokens: number;
}

/**
 * Where a chat's answers are generated and counted. Plain data in and out, so that it can be a
 * Durable Object's RPC methods.
 */
export interface ChatAnswers {
  /** Starts the chat's answer; resolves once its stream exists, so that a reader can start at once. */
  start(request: ChatRequest, client: string): Promise<AnswerStart>;
  /** The answers in flight where `client`'s answers are generated (this process, or its object). */
  stats(client: string): Promise<ChatStats>;
}

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

declare module "hono" {
  interface ContextVariableMap {
    /** The chat request of a `POST /api/chat`, validated before its token is checked against its id. */
    chatRequest: ChatRequest;
  }
}

/** The chat's routes over `answers`, which hold its settings (the model's pace, the TTL, the cap). */
export function chatRoutes(options: ChatRoutesOptions & { answers: ChatAnswers }): Hono {
  const { log, answers } = options;
  const access = options.access;

  const readerOf = (c: Context, chatId: string) =>
    answerResponse({
      log,
      name: answerStreamName(chatId),
      stream: { ...options.eventStreamOptions(c), kind: "answer", channel: answerStreamName(chatId) },
    });

  // The answer's stream a request is about, validated first (it names what the token must grant).
  const chatIdOf = (c: Context) => parseOrThrow(chatIdSchema, c.req.param("id"), "chat_id");
  const streamOfParam = (c: Context) => answerStreamName(chatIdOf(c));
  const pass: MiddlewareHandler = (_c, next) => next();
  const mayWrite = access?.publish((c) => answerStreamName(c.get("chatRequest").id)) ?? pass;
  const mayWriteParam = access?.publish(streamOfParam) ?? pass;
  const mayRead = access?.read(streamOfParam) ?? pass;
  const rateLimit = options.rateLimit ?? pass;

  const routes = new Hono();

  routes.post(
    "/",
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge }),
    async (c, next) => {
      const body = await c.req.json().catch(() => {
        throw new HttpError(400, "invalid_json", "the body is not valid JSON");
      });
      c.set("chatRequest", parseOrThrow(chatRequestSchema, body, "chat"));
      return next();
    },
    mayWrite,
    rateLimit,
    async (c) => {
      const request = c.get("chatRequest");
      const started = await answers.start(request, c.get("clientAddress") ?? "unknown");
      if (started.kind === "in-flight") throw answerInFlight();
      if (started.kind === "too-many") {
        throw new HttpError(429, "too_many_answers", "this client has as many answers in flight as it may", {
          "retry-after": TOO_MANY_ANSWERS_RETRY_AFTER_SECONDS,
        });
      }
      return readerOf(c, request.id);
    },
  );

  // As `/:page`, not `/stats`: Hono's RegExpRouter cannot route a fixed segment beside a parameter
  // at the same depth (`/stats` and `/:id/stream`), and one such pair anywhere makes the whole app
  // fall back to its TrieRouter (measured: 5 to 6 µs of CPU per request on Node, in every append
  // to a durable stream). test/app/router.test.ts keeps the app on the RegExpRouter.
  routes.get("/:page", async (c) => {
    if (c.req.param("page") !== "stats") return c.notFound();
    return c.json(await answers.stats(c.get("clientAddress") ?? "unknown"));
  });

  routes.get("/:id/stream", mayRead, async (c) => {
    const chatId = chatIdOf(c);
    const answer = await log.head(answerStreamName(chatId));
    // None, or expired: CHAT_ANSWER_TTL_SECONDS after its last read or write.
    if (answer.kind !== "found") return c.body(null, 204);
    return readerOf(c, chatId);
  });

  routes.delete("/:id/stream", mayWriteParam, rateLimit, async (c) => {
    const chatId = chatIdOf(c);
    // Through the generation when it runs here, else by closing the stream, which the process that
    // generates it (any other on the same log) hears: every reader gets the abort chunk and the end.
    if ((await stopAnswer(log, answerStreamName(chatId))) === "stopped") return c.body(null, 204);
    throw new HttpError(404, "no_answer_in_flight", `chat ${chatId} has no answer in flight`);
  });

  return routes;
}

/**
 * Answers generated in this process (or, on Workers, in the Durable Object that holds one): one at
 * a time per chat, at most CHAT_MAX_ANSWERS_PER_CLIENT per client, counted here.
 */
export class LocalChatAnswers implements ChatAnswers {
  private readonly inFlight = new Set<string>();
  private readonly perClient = new Map<string, number>();
  private modelTokens = 0;

  constructor(
    private readonly log: StreamLog,
    private readonly settings: ChatSettings,
  ) {}

  /** Answers in flight here. */
  get size(): number {
    return this.inFlight.size;
  }

  async start(request: ChatRequest, client: string): Promise<AnswerStart> {
    const { log, settings } = this;
    const chatId = request.id;
    const name = answerStreamName(chatId);
    if (this.inFlight.has(chatId)) return { kind: "in-flight" };
    if (settings.chatMaxAnswersPerClient > 0 && (this.perClient.get(client) ?? 0) >= settings.chatMaxAnswersPerClient) {
      return { kind: "too-many" };
    }
    // Taken before the first await, so that a second request for the same chat sees it.
    this.inFlight.add(chatId);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    try {
      const previous = await log.head(name);
      // In flight elsewhere (another process on the same log).
      if (previous.kind === "found" && !previous.record.closed) {
        this.release(chatId, client);
        return { kind: "in-flight" };
      }
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
            model: demoModel({ delayMs: settings.demoModelDelayMs, onToken: () => this.modelTokens++ }),
            messages: modelMessages,
            abortSignal: signal,
          }).toUIMessageStream({ originalMessages: messages, generateMessageId: () => crypto.randomUUID() }),
      });
      void answer.ended.finally(() => this.release(chatId, client));
      return { kind: "started" };
    } catch (error) {
      this.release(chatId, client);
      if (error instanceof AnswerStartError) return { kind: "in-flight" };
      throw error;
    }
  }

  async stats(): Promise<ChatStats> {
    return { answersInFlight: this.inFlight.size, modelTokens: this.modelTokens };
  }

  private release(chatId: string, client: string): void {
    this.inFlight.delete(chatId);
    const count = (this.perClient.get(client) ?? 1) - 1;
    if (count > 0) this.perClient.set(client, count);
    else this.perClient.delete(client);
  }
}

function answerInFlight(): HttpError {
  return new HttpError(409, "answer_in_flight", "this chat has an answer in flight: stop it or wait for its end");
}

function tooLarge(): never {
  throw new HttpError(413, "body_too_large", `a chat request is at most ${MAX_BODY_BYTES} bytes`);
}
