/**
 * Resumable answers on Redis, with the AI SDK's own client (`ai` 6, pinned), two Node processes on
 * one redis-server. The reading process killed (`kill -9`) mid-answer: the client resumes on the
 * other and rebuilds the whole answer. A stop on one process of an answer generated on the other goes
 * through its generation. The generating process killed: its readers on the other
 * process end with the documented error and [DONE], and nothing hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCER_GONE_ERROR } from "../../src/ai/index.ts";
import { demoReply } from "../../src/app/demo-model.ts";
import { chunksLeft, messageOf, messageOfChunks, readDeltas, send, textOf, transportOf } from "../support/ai-chat.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, startServer } from "../support/server.ts";

describe("resumable AI answers on Redis, two Node processes", () => {
  let redis: RunningRedis;
  let servers: RunningServer[] = [];
  // Slow enough that every kill lands mid-answer (66 words: about 13 s).
  const SETTINGS = () => ({ REDIS_URL: redis.url, DEMO_MODEL_DELAY_MS: "200", PUBLISH_RATE_LIMIT: "0" });

  beforeAll(async () => {
    redis = await startRedis();
    servers = await Promise.all([startServer("node", SETTINGS()), startServer("node", SETTINGS())]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis?.dispose();
  });

  it("rebuilds the whole answer on another process after the reading process is killed", async () => {
    const [generating, reading] = servers as [RunningServer, RunningServer];
    const chatId = `reader-killed-${Date.now()}`;
    const text = "what survives a crash?";
    await readDeltas(await send(generating, chatId, text), 1);
    const follower = await transportOf(reading).reconnectToStream({ chatId });
    expect(follower).not.toBeNull();
    await readDeltas(follower!, 3);
    reading.signal("SIGKILL");
    expect(await reading.exited(10_000)).toBe(true);

    const resumed = await transportOf(generating).reconnectToStream({ chatId });
    expect(resumed).not.toBeNull();
    const message = await messageOf(resumed!);
    expect(textOf(message)).toBe(demoReply(text).join(""));
    expect(message.parts.filter((part) => part.type === "text")).toHaveLength(1);
    // The killed process comes back for the next test, on a port of its own.
    servers[1] = await startServer("node", SETTINGS());
  });

  it("stops an answer from the other process through its generation: the first reader ends with the abort chunk and rebuilds what a resume does", async () => {
    const [generating, reading] = servers as [RunningServer, RunningServer];
    const chatId = `stopped-elsewhere-${Date.now()}`;
    const { chunks, reader } = await readDeltas(await send(generating, chatId, "stop me from elsewhere"), 3);
    const stop = await fetch(`${reading.url}/api/chat/${chatId}/stream`, { method: "DELETE" });
    expect(stop.status).toBe(204);
    chunks.push(...(await chunksLeft(reader)));
    // Every chunk it was sent is in the log too: no error for a message the log does not hold.
    expect(chunks.at(-1)).toEqual({ type: "abort", reason: "stopped" });
    const first = await messageOfChunks(chunks);
    const resumed = await transportOf(reading).reconnectToStream({ chatId });
    expect(resumed).not.toBeNull();
    expect(await messageOf(resumed!)).toEqual(first);
    expect(textOf(first).length).toBeLessThan(demoReply("stop me from elsewhere").join("").length);
  });

  it("ends the readers on another process with an error and [DONE] when the generating process is killed", async () => {
    const [generating, reading] = servers as [RunningServer, RunningServer];
    const chatId = `producer-killed-${Date.now()}`;
    await readDeltas(await send(generating, chatId, "who finishes this?"), 1);
    const follower = await transportOf(reading).reconnectToStream({ chatId });
    expect(follower).not.toBeNull();
    // A delta read on the other process: stored in Redis before the kill.
    const { chunks: before, reader } = await readDeltas(follower!, 1);
    generating.signal("SIGKILL");
    expect(await generating.exited(10_000)).toBe(true);

    const chunks = [...before, ...(await chunksLeft(reader))]; // ends by itself: never a stream that hangs
    expect(chunks.at(-1)).toEqual({ type: "error", errorText: PRODUCER_GONE_ERROR });
    const deltas = chunks.filter((chunk) => chunk.type === "text-delta").length;
    expect(deltas).toBeGreaterThan(0);
    expect(deltas).toBeLessThan(demoReply("who finishes this?").length);
  });
});
