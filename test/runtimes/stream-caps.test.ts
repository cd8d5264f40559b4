/**
 * Stream caps under every runtime, as real server processes: streams opened from chosen loopback
 * addresses (Linux routes all of 127/8 to lo) meet MAX_STREAMS_PER_CLIENT (429) and MAX_STREAMS
 * (503), each with Retry-After and the JSON error body, and a departed client's place is given
 * back. On workerd the feed's streams live in the channel's Durable Object, which holds the caps
 * for that channel; the ticker's live in the Worker's isolate.
 */
import { type ClientRequest, type IncomingMessage, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";

const MAX_STREAMS = 4;
const MAX_STREAMS_PER_CLIENT = 2;

interface Opened {
  status: number;
  retryAfter: string | undefined;
  /** The JSON error code of a refusal. */
  code: string | undefined;
  close(): void;
}

/** Opens a stream from `localAddress`; a 200 stays open until `close()`, anything else is read whole. */
function openFrom(localAddress: string, url: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(url, { localAddress, headers: { accept: "text/event-stream" } });
    req.on("error", reject);
    req.on("response", (response: IncomingMessage) => {
      const base = { status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"] as string };
      if (response.statusCode === 200) {
        // The first bytes (the stream's opening line) show that the server has started it.
        response.once("data", () => resolve({ ...base, code: undefined, close: () => req.destroy() }));
        return;
      }
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        body += chunk;
      });
      response.on("end", () => {
        const code = (JSON.parse(body) as { error: { code: string } }).error.code;
        resolve({ ...base, code, close: () => {} });
      });
    });
    req.end();
  });
}

describe.each(RUNTIMES)("stream caps on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, {
      MAX_STREAMS: String(MAX_STREAMS),
      MAX_STREAMS_PER_CLIENT: String(MAX_STREAMS_PER_CLIENT),
      // On workerd a departed client is noticed at the next write: keep that soon.
      KEEP_ALIVE_MS: "300",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ["the feed", "/api/channels/capped/messages/stream"],
    ["the ticker", "/api/sse?interval=60000"],
  ])("caps %s per client (429) and in all (503), and frees a departed client's place", async (_name, path) => {
    const url = `${server.url}${path}`;
    // The previous case's streams are gone before this one counts.
    const active = async () =>
      ((await (await fetch(`${server.url}/api/stats`)).json()) as { activeStreams: number }).activeStreams;
    expect(await eventually(active, 0)).toBe(0);
    const open: Opened[] = [];
    try {
      for (const address of ["127.0.0.2", "127.0.0.2"]) open.push(await openFrom(address, url));
      const perClient = await openFrom("127.0.0.2", url);
      expect(perClient).toMatchObject({ status: 429, code: "too_many_client_streams" });
      expect(perClient.retryAfter).toMatch(/^\d+$/);

      for (const address of ["127.0.0.3", "127.0.0.4"]) open.push(await openFrom(address, url));
      expect(open.map((stream) => stream.status)).toEqual([200, 200, 200, 200]);
      const full = await openFrom("127.0.0.5", url);
      expect(full).toMatchObject({ status: 503, code: "too_many_streams" });
      expect(full.retryAfter).toMatch(/^\d+$/);

      // One of 127.0.0.2's clients leaves: that address, and the server, have a place again.
      open.shift()?.close();
      const again = await eventually(
        async () => {
          const attempt = await openFrom("127.0.0.2", url);
          if (attempt.status !== 200) return attempt.status;
          open.push(attempt);
          return 200;
        },
        200,
        5_000,
      );
      expect(again).toBe(200);
    } finally {
      for (const stream of open) stream.close();
    }
  });
});
