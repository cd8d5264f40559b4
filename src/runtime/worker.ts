/**
 * Cloudflare Workers entry (`wrangler dev`, `wrangler deploy`). static/ is served as Workers
 * assets before this runs; settings come from `[vars]` in wrangler.toml or secrets.
 * wrangler.toml sets `enable_request_signal`: without it workerd never tells a stream that its
 * client left (see ../shared/FINDINGS.md). Channels live in `ChannelObject` Durable Objects (and
 * `ChannelShard` ones for big channels), durable streams (/v1/stream) in `StreamObject` ones, except a
 * channel's stream (/v1/stream/channels/<name>), which is its `ChannelObject`'s history; each
 * SSE stream (and long-poll) is held by its client's Worker request. The demo chat's answers are
 * generated in `AnswersObject` ones, one per client address (answers-object.ts).
 */
import { createApp } from "../app/app.ts";
import { chatRoutesWith } from "../app/chat.ts";
import { publicSettings, readConfig } from "../config.ts";
import {
  type ChannelNamespaces,
  DurableObjectHub,
  DurableObjectLog,
  type StreamNamespaces,
} from "../hub/durable-object/index.ts";
import { createLogger, writeToConsoleByLevel } from "../log/logger.ts";
import { type AnswersEnv, answersInObjects } from "./answers-object.ts";

export { ChannelObject, ChannelShard, StreamObject } from "../hub/durable-object/index.ts";
export { AnswersObject } from "./answers-object.ts";

interface Env extends ChannelNamespaces, StreamNamespaces, AnswersEnv {
  [setting: string]: unknown;
}

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request, env, ctx) {
    // One app per isolate, built on first use because env is only known inside a request.
    app ??= createWorkerApp(env);
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

function createWorkerApp(env: Env) {
  const config = readConfig(env);
  const logger = createLogger(config.logLevel, writeToConsoleByLevel);
  // Once per isolate: Workers have no process start, and no listening address of their own.
  logger.info("edge-sse isolate started", {
    runtime: "workerd",
    hub: "durable-object",
    log: "durable-object",
    settings: publicSettings(config),
  });
  return createApp(config, {
    hub: new DurableObjectHub(env, config, logger),
    log: new DurableObjectLog(env),
    chat: chatRoutesWith(config, answersInObjects(env)),
    // Set by Cloudflare's edge (and by wrangler dev) to the visitor's address.
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
    logger,
  });
}
