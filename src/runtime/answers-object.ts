/**
 * The demo chat's answers on Workers: each client address's answers are generated in a Durable Object
 * of its own (`AnswersObject`, named by the address), not in the Worker request that asked. A Worker
 * request's work stops when its client leaves, and `ctx.waitUntil` gives it 30 s more at most
 * (Cloudflare's Workers limits); an object lives on while it has work and is sent events. Measured
 * under wrangler dev: see docs/architecture.md ("Resumable AI answers").
 *
 * The object runs the same `LocalChatAnswers` as a Node process does, over the Durable Object log, so
 * the answer's chunks go to its `StreamObject` and any Worker request reads them; the object only
 * keeps itself alive. Per client, so that CHAT_MAX_ANSWERS_PER_CLIENT is counted in one place.
 */
import { DurableObject } from "cloudflare:workers";
import { type AnswerStart, type ChatAnswers, type ChatRequest, type ChatStats, LocalChatAnswers } from "../app/chat.ts";
import { readConfig } from "../config.ts";
import { DurableObjectLog, type StreamNamespaces } from "../hub/durable-object/index.ts";

export interface AnswersEnv extends StreamNamespaces {
  ANSWERS: DurableObjectNamespace<AnswersObject>;
  [setting: string]: unknown;
}

/**
 * How often an object with answers in flight wakes itself. Cloudflare evicts an object after 70-140 s
 * with no incoming request or event, even with timers and calls pending, unless its compatibility
 * date is 2026-10-01 or later (the Durable Objects lifecycle docs and that day's changelog); an alarm
 * is an incoming event.
 */
export const ANSWERS_KEEP_ALIVE_MS = 30_000;

export class AnswersObject extends DurableObject<AnswersEnv> {
  private readonly answers: LocalChatAnswers;

  constructor(ctx: DurableObjectState, env: AnswersEnv) {
    super(ctx, env);
    this.answers = new LocalChatAnswers(new DurableObjectLog(env), readConfig(env));
  }

  async start(request: ChatRequest, client: string): Promise<AnswerStart> {
    const started = await this.answers.start(request, client);
    if (started.kind === "started") await this.ctx.storage.setAlarm(Date.now() + ANSWERS_KEEP_ALIVE_MS);
    return started;
  }

  stats(): Promise<ChatStats> {
    return this.answers.stats();
  }

  override async alarm(): Promise<void> {
    // A fresh instance (evicted, or code deployed) has none: its answers' readers end with the
    // producer-gone error (src/ai/answer-response.ts), and nothing wakes it again.
    if (this.answers.size > 0) await this.ctx.storage.setAlarm(Date.now() + ANSWERS_KEEP_ALIVE_MS);
  }
}

/** `ChatAnswers` for the Worker's chat routes: each client's answers in its `AnswersObject`. */
export function answersInObjects(env: AnswersEnv): ChatAnswers {
  const objectOf = (client: string) => env.ANSWERS.get(env.ANSWERS.idFromName(client));
  return {
    start: (request, client) => objectOf(client).start(request, client) as Promise<AnswerStart>,
    stats: (client) => objectOf(client).stats() as Promise<ChatStats>,
  };
}
