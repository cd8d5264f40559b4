/**
 * The demo page's tabs share its streams (edge-sse/client with `share`) in real Chromium, against
 * the Node server: three tabs of one origin hold one feed stream and one ticker stream at the server
 * (its stats say so); when the tab holding them closes another takes over, and the other tabs get
 * every message once and the ticker's count with no gap and no repeat. A tab opened with ?share=0
 * holds streams of its own.
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, launchChromiumWith, waitFor } from "../support/browser.ts";
import {
  countOf,
  type Demo,
  feedOf,
  holderOf,
  type Message,
  openDemo,
  post,
  tickerIdsOf,
} from "../support/demo-page.ts";
import { type RunningServer, startServer } from "../support/server.ts";
import { eventually, PATIENCE_MS } from "../support/sse-reader.ts";

const HELD = "held by this tab";
const SHARED = "shared by another tab";
const OWN = "this tab's own";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const asShown = (messages: Message[]) => messages.map((message) => ({ id: String(message.id), text: message.text }));

describe("the demo page's tabs in Chromium, served by Node", () => {
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    ({ browser, server } = await launchChromiumWith(() => startServer("node")));
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await Promise.allSettled([closeChromium(browser), server?.stop()]);
  });

  const url = () => server!.url;
  /** Every stream the server holds open: the feeds and the tickers. */
  const streamsAtServer = async () =>
    ((await (await fetch(`${url()}/api/stats`)).json()) as { activeStreams: number }).activeStreams;
  const subscribers = async (channel: string) =>
    ((await (await fetch(`${url()}/api/channels/${channel}/messages/stats`)).json()) as { subscribers: number })
      .subscribers;

  async function expectFeeds(tabs: Demo[], messages: Message[]): Promise<void> {
    for (const tab of tabs) {
      const shown = async () => (await feedOf(tab.page)).length;
      await waitFor(
        `${messages.length} messages`,
        async () => (await shown()) >= messages.length,
        PATIENCE_MS,
        tab.logs,
      );
    }
    await pause(300); // time for a duplicate to show up, if there were one
    for (const tab of tabs) expect(await feedOf(tab.page)).toEqual(asShown(messages));
  }

  it("holds one feed and one ticker stream for three tabs, and hands both over when the holding tab closes", async () => {
    context = await browser!.newContext();
    const channel = `tabs-${Date.now()}`;
    const tabs: Demo[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openDemo(context, `${url()}/?channel=${channel}&interval=200`));
    expect(await eventually(streamsAtServer, 2)).toBe(2);
    expect(await subscribers(channel)).toBe(1);
    const holders = await Promise.all(tabs.map((tab) => holderOf(tab.page)));
    expect([...holders].sort()).toEqual([HELD, SHARED, SHARED]);
    // Every tab shows the one connection: the holder from its presence event, the others from the stats.
    for (const tab of tabs) await waitFor("a count of 1", async () => (await countOf(tab.page)) === 1, PATIENCE_MS);

    const published: Message[] = [];
    for (let i = 0; i < 5; i++) published.push(await post(url(), `before ${i}`, channel));
    await expectFeeds(tabs, published);

    const holder = tabs[holders.indexOf(HELD)] as Demo;
    const rest = tabs.filter((tab) => tab !== holder);
    const lastTick = Math.max(...(await tickerIdsOf(holder.page)));
    await holder.page.close();
    for (let i = 0; i < 5; i++) published.push(await post(url(), `after ${i}`, channel));
    await expectFeeds(rest, published);
    const newHolders = await Promise.all(rest.map((tab) => holderOf(tab.page)));
    expect([...newHolders].sort()).toEqual([HELD, SHARED]);
    expect(await eventually(streamsAtServer, 2)).toBe(2);
    expect(await subscribers(channel)).toBe(1);

    // The ticker resumed from the last id the tabs saw: its count goes on with nothing missed or twice.
    for (const tab of rest) {
      const past = async () => Math.max(...(await tickerIdsOf(tab.page))) >= lastTick + 3;
      await waitFor("three ticks after the hand-over", past, PATIENCE_MS, tab.logs);
      const ids = await tickerIdsOf(tab.page);
      expect(
        ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1),
        `ticks ${ids.join(",")}`,
      ).toBe(true);
      expect(tab.errors).toEqual([]);
    }
  });

  it("gives a tab opened with ?share=0 streams of its own, beside the tabs that share", async () => {
    context = await browser!.newContext();
    const channel = `own-${Date.now()}`;
    const shared = [await openDemo(context, `${url()}/?channel=${channel}`)];
    shared.push(await openDemo(context, `${url()}/?channel=${channel}`));
    const own = await openDemo(context, `${url()}/?channel=${channel}&share=0`);
    expect(await eventually(streamsAtServer, 4)).toBe(4);
    expect(await subscribers(channel)).toBe(2);
    expect(await holderOf(own.page)).toBe(OWN);

    const published: Message[] = [];
    for (let i = 0; i < 3; i++) published.push(await post(url(), `to all ${i}`, channel));
    await expectFeeds([...shared, own], published);
    await waitFor("a count of 2", async () => (await countOf(own.page)) === 2, PATIENCE_MS);

    await own.page.close();
    expect(await eventually(streamsAtServer, 2)).toBe(2);
    expect(await subscribers(channel)).toBe(1);
    for (const tab of [...shared, own]) expect(tab.errors).toEqual([]);
  });
});
