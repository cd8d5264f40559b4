/**
 * The Worker with the demo chat's answers generated in the Worker request that asked for them, kept
 * alive past its response by `waitUntil` only: the alternative to `AnswersObject` that the long
 * measurement in test/runtimes/ai-chat-workers.test.ts holds it against (docs/architecture.md,
 * "Resumable AI answers"). Not what the Worker ships.
 */
import { waitUntil } from "cloudflare:workers";
import { createApp } from "../../src/app/app.ts";
import { type ChatAnswers, chatRoutesWith, LocalChatAnswers } from "../../src/app/chat.ts";
import { readConfig } from "../../src/config.ts";
import { DurableObjectHub, DurableObjectLog } from "../../src/hub/durable-object/index.ts";
import { createLogger } from "../../src/log/logger.ts";
import type worker from "../../src/runtime/worker.ts";

export { AnswersObject, ChannelObject, ChannelShard, StreamObject } from "../../src/runtime/worker.ts";

type Env = Parameters<typeof worker.fetch>[1];

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request, env, ctx) {
    app ??= createWaitUntilApp(env);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

function createWaitUntilApp(env: Env) {
  const config = readConfig(env);
  const log = new DurableObjectLog(env);
  const local = new LocalChatAnswers(log, config);
  const answers: ChatAnswers = {
    async start(request, client) {
      const started = await local.start(request, client);
      // Kept until no answer of this isolate is in flight.
      if (started.kind === "started") waitUntil(untilNoneInFlight(local));
      return started;
    },
    stats: () => local.stats(),
  };
  return createApp(config, {
    hub: new DurableObjectHub(env, config, createLogger(config.logLevel)),
    log,
    chat: chatRoutesWith(config, answers),
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
  });
}

function untilNoneInFlight(answers: LocalChatAnswers): Promise<void> {
  return new Promise((resolve) => {
    const check = setInterval(() => {
      if (answers.size > 0) return;
      clearInterval(check);
      resolve();
    }, 1_000);
  });
}
