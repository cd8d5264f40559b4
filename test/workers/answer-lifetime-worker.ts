/**
 * The Worker with the demo chat's answers generated elsewhere than the Worker ships them, for the
 * long measurement in test/runtimes/ai-chat-workers.test.ts (docs/architecture.md, "Resumable AI
 * answers"). `ANSWERS_IN` (a `--var`) says where:
 * - `worker-wait-until`: in the Worker request that asked, kept past its response by `waitUntil`;
 * - `worker`: in that request, with nothing to keep it;
 * - `object-without-alarm`: in the client's `AnswersObject`, which never wakes itself.
 */
import { waitUntil } from "cloudflare:workers";
import { createApp } from "../../src/app/app.ts";
import { type ChatAnswers, chatRoutesWith, LocalChatAnswers } from "../../src/app/chat.ts";
import { readConfig } from "../../src/config.ts";
import { DurableObjectHub, DurableObjectLog } from "../../src/hub/durable-object/index.ts";
import { createLogger } from "../../src/log/logger.ts";
import worker, { AnswersObject as Answers } from "../../src/runtime/worker.ts";

export { ChannelObject, ChannelShard, StreamObject } from "../../src/runtime/worker.ts";

type Env = Parameters<typeof worker.fetch>[1];

export class AnswersObject extends Answers {
  override async alarm(): Promise<void> {
    if (this.env.ANSWERS_IN !== "object-without-alarm") await super.alarm();
  }
}

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request, env, ctx) {
    if (env.ANSWERS_IN === "object-without-alarm") return worker.fetch(request, env, ctx);
    app ??= createInWorkerApp(env);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

function createInWorkerApp(env: Env) {
  const config = readConfig(env);
  const log = new DurableObjectLog(env);
  const local = new LocalChatAnswers(log, config);
  const answers: ChatAnswers = {
    async start(request, client) {
      const started = await local.start(request, client);
      // Kept until no answer of this isolate is in flight.
      if (started.kind === "started" && env.ANSWERS_IN === "worker-wait-until") waitUntil(untilNoneInFlight(local));
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
