/**
 * Vercel's `resumable-stream` 2.2.13 as its README's "Usage with explicit resumption" sets it up, on
 * Node with its default Redis client (node-redis on REDIS_URL), for `npm run bench:answers`. The same
 * routes as edge-sse's bench server (bench/answers/edge-sse-server.ts), streaming the same chunks
 * (bench/answers/chunks.ts) at the same pace, each written as the AI SDK's UI message stream writes
 * it (`data: <chunk JSON>\n\n`, then `data: [DONE]\n\n`):
 *
 * - `POST /answers/:id`: `createNewResumableStream(id, makeStream)`, answered as the first reader;
 *   `?tokens=` sets its length (the benchmark's warm-up);
 * - `GET /answers/:id/stream`: `resumeExistingStream(id)`: `204` when there is none (or it is done);
 * - `GET /healthz`: `{ answersInFlight }` in this process;
 * - `POST /collect`: a full garbage collection (bench/peers/serve.ts), before the idle reading.
 *
 * The answer's chunks live in the producing process's memory; other readers get them over Redis
 * pub/sub from that process (its README, "How it works").
 */
import { createResumableStreamContext } from "resumable-stream";
import { type AnswerPace, answerChunks, paceFrom, paceOf } from "../answers/chunks.ts";
import { collectGarbage, serveFetch } from "./serve.ts";

const pace = paceFrom((name) => process.env[name]);
// A long-running server has no `waitUntil`: the process outlives every generation.
const streamContext = createResumableStreamContext({ waitUntil: null });
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const ANSWER_PATH = /^\/answers\/([\w-]{1,64})(\/stream)?$/;
let answersInFlight = 0;

/** The answer as SSE text, the stream of strings resumable-stream keeps and resumes. */
function makeStream(pace: AnswerPace): ReadableStream<string> {
  const chunks = answerChunks(pace);
  answersInFlight++;
  return new ReadableStream<string>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) {
        controller.enqueue("data: [DONE]\n\n");
        controller.close();
        answersInFlight--;
        return;
      }
      controller.enqueue(`data: ${JSON.stringify(next.value)}\n\n`);
    },
  });
}

await serveFetch(async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/healthz") return Response.json({ answersInFlight });
  if (url.pathname === "/collect") return new Response(null, { status: collectGarbage() ? 204 : 501 });
  const match = ANSWER_PATH.exec(url.pathname);
  if (match === null) return new Response(null, { status: 404 });
  const id = match[1] as string;
  if (request.method === "POST" && match[2] === undefined) {
    const stream = await streamContext.createNewResumableStream(id, () => makeStream(paceOf(url, pace)));
    return new Response(stream?.pipeThrough(new TextEncoderStream()), { headers: SSE_HEADERS });
  }
  if (request.method === "GET" && match[2] !== undefined) {
    const stream = await streamContext.resumeExistingStream(id);
    if (!stream) return new Response(null, { status: 204 });
    return new Response(stream.pipeThrough(new TextEncoderStream()), { headers: SSE_HEADERS });
  }
  return new Response(null, { status: 405 });
});
