/**
 * edge-sse/client's channel-aware API (`connectChannels`) against the app's multi-channel stream,
 * in-process on the in-memory hub: the URL it builds, each channel's typed handlers, and a dropped
 * connection resumed with the cursor so that what each channel published meanwhile comes once.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { connectChannels } from "../../src/client/index.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { freshChannels, publish } from "../support/channel-set-cases.ts";
import { eventually } from "../support/sse-reader.ts";

interface Item {
  id: number;
  text: string;
}

describe("connectChannels", () => {
  it("follows each channel with its own handlers and resumes every channel after a dropped connection", async () => {
    const app = createApp({ ...DEFAULT_CONFIG, retryMs: 20 });
    const target = { request: async (path: string, init?: RequestInit) => app.request(path, init), historyLimit: 1000 };
    const [news, chat] = freshChannels(2, "client") as [string, string];
    // A fetch into the app whose connections the test can cut, as a network would.
    const cuts: (() => void)[] = [];
    const attempts: { url: string; lastEventId: string | null }[] = [];
    const fetch = async (url: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      attempts.push({ url: String(url), lastEventId: headers.get("last-event-id") });
      const response = await app.request(String(url), init);
      const cut = new AbortController();
      cuts.push(() => cut.abort());
      const body = response.body?.pipeThrough(new TransformStream(), { signal: cut.signal });
      return new Response(body, response);
    };
    const received: string[] = [];
    const client = connectChannels<{ [news]: { message: Item }; [chat]: { message: Item } }>({
      url: "http://edge-sse.test/api/stream",
      channels: [news, chat],
      fetch: fetch as typeof globalThis.fetch,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    client.channel(news).on("message", ({ data }) => received.push(`news ${data.text}`));
    client.channel(chat).on("message", ({ data }) => received.push(`chat ${data.text}`));
    try {
      expect(await eventually(async () => client.lastEventId !== undefined, true)).toBe(true);
      expect(new URL(attempts[0]?.url as string).searchParams.getAll("channel")).toEqual([news, chat]);
      await publish(target, news, "n1");
      expect(await eventually(async () => received.length, 1)).toBe(1);
      const positions = client.positions();
      expect(Object.keys(positions)).toEqual([news, chat]);

      cuts[0]?.();
      // Published while the connection is down (or reopening): each comes once.
      await publish(target, chat, "c1");
      await publish(target, news, "n2");
      await publish(target, chat, "c2");
      expect(await eventually(async () => received.length, 4)).toBe(4);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts[1]?.lastEventId).toContain(`${news}:${positions[news]}`);
      await publish(target, news, "n3");
      expect(await eventually(async () => received.length, 5)).toBe(5);
      expect(received.filter((line) => line.startsWith("news"))).toEqual(["news n1", "news n2", "news n3"]);
      expect(received.filter((line) => line.startsWith("chat"))).toEqual(["chat c1", "chat c2"]);
    } finally {
      client.close();
    }
  });
});
