/**
 * edge-sse's side of `npm run bench:answers`: resumable answers served with the package's own
 * `edge-sse/ai` (`startAnswer`, `answerResponse`) over a durable-streams log, as README's "Resumable AI
 * answers" shows a user's app doing it, on Node, Bun or Deno; with REDIS_URL the log is Redis's, so any
 * process serves the reading while the one that took the POST generates.
 *
 * Not the demo server's `/api/chat`: its demo model's words carry no send time (the benchmark's
 * append-to-receive latency needs one in every token) and its reply has a fixed length. This server
 * streams bench/answers/chunks.ts, the same chunks at the same pace as the resumable-stream peer.
 *
 * - `POST /answers/:id`: starts the answer and answers its UI message stream (the first reader);
 *   `?tokens=` sets its length (the benchmark's warm-up);
 * - `GET /answers/:id/stream`: the answer from its first chunk, live, to `[DONE]` (`204`: none);
 * - `GET /healthz`: `{ answersInFlight }` in this process;
 * - `POST /collect`: a full garbage collection (bench/peers/serve.ts), before the idle reading.
 */
import { answerResponse, startAnswer } from "../../src/ai/index.ts";
import { readConfig, streamLimits, streamSettings } from "../../src/config.ts";
import type { StreamLog } from "../../src/hub/log.ts";
import type { NodeFetch } from "../../src/node/index.ts";
import { OpenStreams } from "../../src/sse/index.ts";
import { MemoryLog } from "../../src/streams/index.ts";
import { collectGarbage, environment, serveFetch } from "../peers/serve.ts";
import { answerChunks, paceFrom, paceOf } from "./chunks.ts";

const env = environment();
const config = readConfig(env);
const pace = paceFrom((name) => env[name]);
const openStreams = new OpenStreams(config, { sharedKeepAliveTimers: true });

async function openLog(): Promise<StreamLog> {
  if (!config.redisUrl) return new MemoryLog(streamLimits(config));
  const { connectRedis } = await import("../../src/hub/redis/index.ts");
  const { log } = await connectRedis({
    url: config.redisUrl,
    historyLimit: config.historyLimit,
    streams: streamSettings(config),
    openStreams,
    timeoutMs: config.redisTimeoutMs,
    streamLimits: streamLimits(config),
    appendSpacingMs: config.answerAppendSpacingMs,
  });
  return log;
}

const log = await openLog();
// On Node, event streams are written straight to node:http, as edge-sse's Node entry does; loaded
// only there.
const onNode = "Bun" in globalThis || "Deno" in globalThis ? undefined : await import("../../src/node/index.ts");
let answersInFlight = 0;
const ANSWER_PATH = /^\/answers\/([\w-]{1,64})(\/stream)?$/;

await serveFetch(
  async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ answersInFlight });
    if (url.pathname === "/collect") return new Response(null, { status: collectGarbage() ? 204 : 501 });
    const match = ANSWER_PATH.exec(url.pathname);
    if (match === null) return new Response(null, { status: 404 });
    const name = `bench/answers/${match[1]}`;
    // No request signal: Node, Bun and Deno cancel the body when the client leaves (src/app/server-app.ts).
    const stream = { ...streamSettings(config), openStreams };
    if (request.method === "POST" && match[2] === undefined) {
      const answer = await startAnswer({
        log,
        name,
        ttlSeconds: 300,
        source: (signal) => answerChunks(paceOf(url, pace), signal),
      });
      answersInFlight++;
      void answer.ended.finally(() => answersInFlight--);
      return answerResponse({ log, name, stream });
    }
    if (request.method === "GET" && match[2] !== undefined) {
      if ((await log.head(name)).kind !== "found") return new Response(null, { status: 204 });
      return answerResponse({ log, name, stream });
    }
    return new Response(null, { status: 405 });
  },
  onNode && ((fetch) => onNode.directEventStreams(fetch as NodeFetch) as typeof fetch),
);
