/**
 * The installed package from plain Node, with no TypeScript loader: every Node-side entry loads and
 * has its exports; the core and the hub load without hono installed, so they do not import it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { startRedis } from "../support/redis.ts";

const run = promisify(execFile);

/** Imports each entry in a plain `node` process in `cwd`, returning its export names (or the error code). */
async function exportsOf(cwd: string, entries: string[]): Promise<Record<string, string[] | string>> {
  const script = `
    const out = {};
    for (const entry of ${JSON.stringify(entries)}) {
      try { out[entry] = Object.keys(await import(entry)).sort(); } catch (error) { out[entry] = error.code ?? String(error); }
    }
    console.log(JSON.stringify(out));`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd });
  return JSON.parse(stdout);
}

describe("the installed tarball, from plain Node", () => {
  it("loads every Node-side entry with its exports", async () => {
    const loaded = await exportsOf(inject("consumer"), [
      "edge-sse",
      "edge-sse/ai",
      "edge-sse/hono",
      "edge-sse/hub",
      "edge-sse/node",
      "edge-sse/streams",
      "edge-sse/client",
    ]);
    expect(loaded["edge-sse"]).toEqual(
      expect.arrayContaining(["eventStream", "OpenStreams", "encodeEvent", "EventStreamError", "takeOver"]),
    );
    expect(loaded["edge-sse/ai"]).toEqual([
      "ANSWER_LOST_ERROR",
      "AnswerStartError",
      "DIVERGED_ERROR",
      "DONE",
      "HEARTBEAT_CHUNK_TYPE",
      "PRODUCER_GONE_ERROR",
      "UI_MESSAGE_STREAM_HEADERS",
      "answerResponse",
      "startAnswer",
      "stopAnswer",
    ]);
    expect(loaded["edge-sse/hono"]).toEqual(["eventStreamMiddleware", "streamEvents"]);
    expect(loaded["edge-sse/hub"]).toEqual(expect.arrayContaining(["Channel", "MemoryHub", "encodeChannelEvent"]));
    expect(loaded["edge-sse/node"]).toEqual(["directEventStreams", "incomingBody", "startOnServerResponse"]);
    expect(loaded["edge-sse/client"]).toEqual([
      "ChannelSetClient",
      "EventStreamClient",
      "backoffDelay",
      "connectChannels",
      "connectEventStream",
    ]);
    expect(loaded["edge-sse/streams"]).toEqual(
      expect.arrayContaining(["durableStreams", "MemoryLog", "formatOffset", "parseOffset"]),
    );
  });

  it("serves the core's stream to a plain fetch, with no framework", async () => {
    const script = `
      import { eventStream } from "edge-sse";
      const response = eventStream((async function* () { yield "a"; yield { event: "b", data: { n: 1 } }; })());
      console.log(response.headers.get("content-type"));
      console.log(JSON.stringify(await response.text()));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: inject("consumer") });
    expect(stdout.split("\n")).toEqual([
      "text/event-stream; charset=utf-8",
      JSON.stringify(':\n\ndata:a\n\nevent: b\ndata:{"n":1}\n\n'),
      "",
    ]);
  });

  it("loads the core, the hub and edge-sse/ai without hono or ai, which only edge-sse/hono and edge-sse/node need", async () => {
    const loaded = await exportsOf(inject("bare"), [
      "edge-sse",
      "edge-sse/ai",
      "edge-sse/hub",
      "edge-sse/hono",
      "edge-sse/node",
    ]);
    expect(loaded["edge-sse"]).toContain("eventStream");
    expect(loaded["edge-sse/ai"]).toContain("startAnswer");
    expect(loaded["edge-sse/hub"]).toContain("MemoryHub");
    expect(loaded["edge-sse/hono"]).toBe("ERR_MODULE_NOT_FOUND");
    expect(loaded["edge-sse/node"]).toBe("ERR_MODULE_NOT_FOUND");
  });

  it("loads edge-sse/hub/redis without redis installed, and only connecting asks for it", async () => {
    const loaded = await exportsOf(inject("bare"), ["edge-sse/hub/redis"]);
    expect(loaded["edge-sse/hub/redis"]).toEqual(["BackendUnavailableError", "connectRedis", "connectRedisHub"]);
    const script = `
      import { connectRedisHub } from "edge-sse/hub/redis";
      try { await connectRedisHub({ url: "redis://127.0.0.1:1" }); } catch (error) { console.log(error.code); }`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: inject("bare") });
    expect(stdout.trim()).toBe("ERR_MODULE_NOT_FOUND");
  });

  it("shares a channel between two Redis hubs of a plain Node app", async () => {
    const redis = await startRedis();
    try {
      const script = `
        import { OpenStreams } from "edge-sse";
        import { connectRedisHub } from "edge-sse/hub/redis";
        const options = {
          url: ${JSON.stringify(redis.url)}, historyLimit: 10, timeoutMs: 1000,
          streams: { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 20, maxBufferedEvents: 100 },
          openStreams: new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }),
        };
        const [a, b] = await Promise.all([connectRedisHub(options), connectRedisHub(options)]);
        const published = await a.publish("news", { data: { text: "from a" }, event: "note" });
        const listed = await b.list("news", 0, 10);
        console.log(JSON.stringify(listed.map((e) => e.id === published.event.id && e.event === "note" && JSON.parse(e.data).text)));
        await Promise.all([a.close(), b.close()]);`;
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
        cwd: inject("consumer"),
      });
      expect(stdout.trim()).toBe('["from a"]');
    } finally {
      await redis.dispose();
    }
  });
});
