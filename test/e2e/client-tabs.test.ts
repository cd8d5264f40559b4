/**
 * edge-sse/client's shared stream in real Chromium: three tabs of one origin hold one connection
 * (the server counts one subscriber), every tab gets every message once and in order, and when the
 * leader's tab closes another tab takes over from the last event the tabs saw, losing and repeating
 * nothing. A tab that opts out holds a stream of its own.
 */
import { build } from "esbuild";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, launchChromiumWith } from "../support/browser.ts";
import { type RunningServer, startServer } from "../support/server.ts";
import { eventually } from "../support/sse-reader.ts";

// Served by the browser context itself (page.route), on the server's origin: the page and the client.
const PAGE = `<!doctype html><meta charset="utf-8"><title>shared stream</title>
<script type="module">
  import { connectEventStream } from "/__test/edge-sse-client.js";
  const params = new URLSearchParams(location.search);
  window.received = [];
  const stream = connectEventStream({
    url: "/api/channels/" + params.get("channel") + "/messages/stream",
    share: params.get("share") ?? undefined,
    lastEventId: params.get("lastEventId") ?? undefined,
  });
  stream.on("message", ({ data }) => window.received.push(data.id));
  window.isLeader = () => stream.isLeader;
  window.ready = true;
</script>`;

describe("edge-sse/client across tabs (Chromium, Node server)", () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: ["src/client/index.ts"],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
    });
    const client = bundle.outputFiles[0]?.text ?? "";
    ({ browser, server } = await launchChromiumWith(() =>
      startServer("node", { PUBLISH_RATE_LIMIT: "0", RETRY_MS: "200" }),
    ));
    context = await browser.newContext();
    await context.route(`${server.url}/__test/**`, (route) => {
      const script = route.request().url().endsWith(".js");
      return route.fulfill({
        contentType: script ? "text/javascript" : "text/html",
        body: script ? client : PAGE,
      });
    });
  });
  afterAll(async () => {
    await closeChromium(browser);
    await server?.stop();
  });

  const subscribers = async (channel: string) =>
    ((await (await fetch(`${server.url}/api/channels/${channel}/messages/stats`)).json()) as { subscribers: number })
      .subscribers;
  const received = (page: Page) => page.evaluate(() => (window as unknown as { received: number[] }).received);
  const publish = async (channel: string, count: number, into: number[]) => {
    for (let i = 0; i < count; i++) {
      const response = await fetch(`${server.url}/api/channels/${channel}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `m${into.length}` }),
      });
      into.push(((await response.json()) as { id: number }).id);
    }
  };
  async function openTab(channel: string, share?: string, lastEventId?: number): Promise<Page> {
    const page = await context.newPage();
    const query = `channel=${channel}${share ? `&share=${share}` : ""}${lastEventId ? `&lastEventId=${lastEventId}` : ""}`;
    await page.goto(`${server.url}/__test/page.html?${query}`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return page;
  }

  it("holds one connection for three tabs, and hands it over when the leader's tab closes", async () => {
    const channel = `tabs-${Date.now()}`;
    const tabs = [await openTab(channel, "feed"), await openTab(channel, "feed"), await openTab(channel, "feed")];
    expect(await eventually(() => subscribers(channel), 1)).toBe(1);
    const published: number[] = [];
    await publish(channel, 5, published);
    for (const tab of tabs) expect(await eventually(async () => (await received(tab)).length, 5)).toBe(5);

    const leaders = await Promise.all(
      tabs.map((tab) => tab.evaluate(() => (window as unknown as { isLeader(): boolean }).isLeader())),
    );
    expect(leaders.filter(Boolean)).toHaveLength(1);
    const leader = tabs[leaders.indexOf(true)] as Page;
    await leader.close();
    const rest = tabs.filter((tab) => tab !== leader);
    await publish(channel, 5, published);
    for (const tab of rest) {
      expect(await eventually(async () => (await received(tab)).length, 10)).toBe(10);
      expect(await received(tab)).toEqual(published);
    }
    expect(await eventually(() => subscribers(channel), 1)).toBe(1);

    // A tab that opts out has its own stream, beside the shared one.
    const own = await openTab(channel);
    expect(await eventually(() => subscribers(channel), 2)).toBe(2);
    await publish(channel, 1, published);
    expect(await eventually(async () => (await received(own)).length, 1)).toBe(1);
    for (const tab of [...rest, own]) await tab.close();
  });

  it("leads from the leader's id, not an older one it was given, so the other tabs see nothing twice", async () => {
    const channel = `joined-${Date.now()}`;
    const first = await openTab(channel, "late");
    expect(await eventually(() => subscribers(channel), 1)).toBe(1);
    const published: number[] = [];
    await publish(channel, 3, published);
    expect(await eventually(async () => (await received(first)).length, 3)).toBe(3);

    // Two tabs join, one of them asking to start from the first message: the leader is past it.
    const older = await openTab(channel, "late", published[0]);
    const other = await openTab(channel, "late");
    await first.close();
    await publish(channel, 2, published);
    const after = published.slice(3);
    for (const tab of [older, other]) {
      expect(await eventually(async () => (await received(tab)).length, 2)).toBe(2);
      await new Promise((resolve) => setTimeout(resolve, 300)); // time for a repeat to show up, if there were one
      expect(await received(tab)).toEqual(after);
    }
    for (const tab of [older, other]) await tab.close();
  });
});
