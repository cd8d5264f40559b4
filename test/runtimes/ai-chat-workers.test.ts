/**
 * The demo chat on Workers (`wrangler dev`), with the AI SDK's own client: the cases of
 * test/support/ai-chat.ts, each answer generated in its client's `AnswersObject` and stored in its
 * `StreamObject`; and the answers' streams, read-only at /v1/stream.
 *
 * The long measurement (minutes, outside `npm test`): an answer that lasts LONG_ANSWER_MINUTES, its
 * only client gone after the first words, nobody asking anything meanwhile; then a late reader must
 * rebuild the whole answer. With the answers in objects (what the Worker ships), and, measured for the
 * docs, elsewhere (test/workers/answer-lifetime-worker.ts: in the Worker request with or without
 * `waitUntil`, in an object that does not wake itself):
 *
 *   LONG_ANSWER_MINUTES=4 npx vitest run --project runtimes test/runtimes/ai-chat-workers.test.ts -t minutes
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoReply } from "../../src/app/demo-model.ts";
import {
  chatCases,
  chunksOf,
  expectedText,
  messageOf,
  messageOfChunks,
  readDeltas,
  send,
  textOf,
  transportOf,
} from "../support/ai-chat.ts";
import { startWorkerEntry } from "../support/restartable-worker.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const DELAY_MS = 20;

describe("resumable AI answers on workerd (Durable Objects)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer("workerd", { DEMO_MODEL_DELAY_MS: String(DELAY_MS), PUBLISH_RATE_LIMIT: "0" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  chatCases(() => server, DELAY_MS);

  it("refuses to create, append to, close or delete an answer's stream at /v1/stream (405), and changes nothing", async () => {
    const chatId = `read-only-${Date.now()}`;
    const message = await messageOf(await send(server, chatId, "mine"));
    const stream = `${server.url}/v1/stream/ai/chat/${chatId}`;
    const before = await (await fetch(`${stream}?offset=-1`)).text();
    const json = { "content-type": "application/json" };
    for (const [method, headers, body] of [
      ["POST", json, '[{"type":"text-delta","id":"text-0","delta":"forged"}]'],
      ["POST", { ...json, "stream-closed": "true" }, "[]"],
      ["DELETE", {}, undefined],
      ["PUT", json, undefined],
    ] as const) {
      const response = await fetch(stream, { method, headers, body });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
      expect(await response.json()).toMatchObject({ error: { code: "read_only_stream" } });
    }
    // A chat that has not started yet cannot be squatted either.
    const unborn = await fetch(`${server.url}/v1/stream/ai/chat/unborn-${Date.now()}`, {
      method: "PUT",
      headers: json,
    });
    expect(unborn.status).toBe(405);
    expect(await (await fetch(`${stream}?offset=-1`)).text()).toBe(before);
    expect(await messageOf((await transportOf(server).reconnectToStream({ chatId }))!)).toEqual(message);
  });
});

const LONG_ANSWER_MINUTES = Number(process.env.LONG_ANSWER_MINUTES ?? 0);

describe.runIf(LONG_ANSWER_MINUTES > 0)(`an answer of ${LONG_ANSWER_MINUTES} minutes with its client gone`, () => {
  const text = "how long do you last?";
  const words = demoReply(text).length;
  const delayMs = Math.round((LONG_ANSWER_MINUTES * 60_000) / words);
  // Kept long past the answer's end: what a dead generation had written stays readable, and its
  // words tell when it died (one every delayMs).
  const settings = {
    DEMO_MODEL_DELAY_MS: String(delayMs),
    CHAT_ANSWER_TTL_SECONDS: String(LONG_ANSWER_MINUTES * 60 + 600),
    PUBLISH_RATE_LIMIT: "0",
  };
  const minutes = LONG_ANSWER_MINUTES * 60_000;

  /** Asks, leaves after two words, waits the answer's length and a margin touching nothing, then reads it. */
  async function leaveAndComeBack(server: RunningServer) {
    const chatId = `long-${Date.now()}`;
    const left = new AbortController();
    const started = Date.now();
    const first = await send(server, chatId, text, left.signal);
    // Where the generation cannot outlive its request, the first reader's stream may end early too: say so.
    const firstRead = await readDeltas(first, 2).catch((error: Error) => error);
    if (firstRead instanceof Error) console.log(`${server.url}: the first reader's ${firstRead.message}`);
    left.abort();
    if (!(firstRead instanceof Error)) await firstRead.reader.cancel().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, minutes + 20_000));
    const resumed = await transportOf(server).reconnectToStream({ chatId });
    const chunks = resumed === null ? [] : await chunksOf(resumed);
    const deltas = chunks.filter((chunk) => chunk.type === "text-delta").length;
    console.log(
      `${server.url}: ${words} words at ${delayMs} ms; after ${Math.round((Date.now() - started) / 1000)} s a late reader got ${resumed === null ? "204" : `${deltas} words, last chunk ${JSON.stringify(chunks.at(-1))}`}`,
    );
    // What workerd said about it, if anything went wrong.
    const said = server
      .output()
      .split("\n")
      .filter((line) => /error|exception|cancel|evict|reset|hung/i.test(line) && !/Request\.cf|getaddrinfo/.test(line));
    if (said.length > 0) console.log(said.slice(0, 20).join("\n"));
    return chunks;
  }

  it(
    "in its client's AnswersObject: runs to its end, and a late reader rebuilds it whole",
    async () => {
      const server = await startServer("workerd", settings, { wranglerLogLevel: "log" });
      try {
        const chunks = await leaveAndComeBack(server);
        const message = await messageOfChunks(chunks);
        expect(textOf(message)).toBe(expectedText(text));
      } finally {
        await server.stop();
      }
    },
    minutes + 120_000,
  );

  // The alternatives, measured for docs/architecture.md: what a late reader gets is logged, not asserted.
  for (const where of ["worker-wait-until", "worker", "object-without-alarm"]) {
    it(
      `elsewhere (${where}, test/workers/answer-lifetime-worker.ts): what a late reader gets`,
      async () => {
        const server = await startWorkerEntry("test/workers/answer-lifetime-worker.ts", {
          ...settings,
          ANSWERS_IN: where,
        });
        try {
          await leaveAndComeBack(server);
        } finally {
          await server.stop();
        }
      },
      minutes + 120_000,
    );
  }
});
