/**
 * The demo page (static/index.html) in headless Chromium, against wrangler dev and Node: the
 * ticker's console lines, the live feed across tabs, and a feed that survives a server restart
 * and a proxy's error pages through edge-sse/client's reconnect and Last-Event-ID; a channel's history on open, ?channel=
 * and the channel switch, the live subscriber count, and the messages-per-second chart.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, launchChromiumWith, waitFor } from "../support/browser.ts";
import { countOf, type Demo, feedOf, type Message, openDemo, post } from "../support/demo-page.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";

const ISO = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`;
const tick = (i: number) => new RegExp(`^onmessage: Middleware ${i} at (${ISO})$`);
// Short enough for a quick test, long enough to post over HTTP before the page comes back.
const SETTINGS = { RETRY_MS: "2000" };

// A stopped server cuts the open streams, and is not there for a moment: expected in a restart.
const STREAM_CUT =
  /^Failed to load resource: net::ERR_\w+ \(http:\/\/[^/]+\/(sse|api\/(channels\/[\w-]+\/)?messages\/stream)(\?[^)]*)?\)$/;

// What Chromium logs for the error page above.
const BAD_GATEWAY = /^Failed to load resource: the server responded with a status of 502/;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each<Runtime>(["workerd", "node"])("the demo page in Chromium, served by %s", (runtime) => {
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    ({ browser, server } = await launchChromiumWith(() => startServer(runtime, SETTINGS)));
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await Promise.allSettled([closeChromium(browser), server?.stop()]);
  });

  const url = () => server!.url;

  it("logs onopen, then the ticker's events in order, in the console and in #log", async () => {
    context = await browser!.newContext();
    const { page, logs, errors } = await openDemo(context, `${url()}/?interval=200`);
    const ticker = () => logs.filter((line) => !line.startsWith("feed: "));
    await waitFor("two ticker events", () => ticker().length >= 3, 10_000, logs);

    const [open, first, second] = ticker() as [string, string, string];
    expect(open).toBe("onopen");
    expect(first).toMatch(tick(0));
    expect(second).toMatch(tick(1));
    // ?interval=200 reached the server: by default they are 5 s apart.
    const gap = Date.parse(tick(1).exec(second)![1]!) - Date.parse(tick(0).exec(first)![1]!);
    expect(gap).toBeGreaterThanOrEqual(100);
    expect(gap).toBeLessThan(2_000);

    // #log shows the same lines; the event id is in a span of its own.
    const log = await page.$$eval("#log li", (items) =>
      items.map((item) => ({ line: item.firstChild?.textContent, id: item.querySelector(".id")?.textContent })),
    );
    expect(log.slice(0, 3)).toEqual([
      { line: open, id: undefined },
      { line: first, id: "  (id 0)" },
      { line: second, id: "  (id 1)" },
    ]);
    expect(await page.getAttribute("#status", "data-state")).toBe("open");
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("open");
    expect(errors).toEqual([]);
  });

  it("shows a message sent from the form in one tab in both tabs' feeds, once", async () => {
    context = await browser!.newContext();
    const sender = await openDemo(context, `${url()}/`);
    const reader = await openDemo(context, `${url()}/`);
    const text = `hello from tab one ${Date.now()}`;

    await sender.page.fill("#feed-form input[name=text]", text);
    await sender.page.fill("#feed-form input[name=author]", "tab one");
    await sender.page.click("#feed-form button[type=submit]");

    const shows = async (page: Page) => (await feedOf(page)).some((entry) => entry.text === text);
    await waitFor("the message in the second tab", () => shows(reader.page), 10_000, reader.logs);
    await waitFor("the message in the first tab", () => shows(sender.page), 10_000, sender.logs);
    await pause(300); // time for a duplicate to show up, if there were one

    const [sent, received] = await Promise.all([feedOf(sender.page), feedOf(reader.page)]);
    expect(received.filter((entry) => entry.text === text)).toHaveLength(1);
    expect(sent).toEqual(received);
    const meta = await reader.page.textContent(`#feed li[data-id="${received.at(-1)!.id}"] .meta`);
    expect(meta).toContain("tab one");
    // A successful send clears the text and reports no error.
    expect(await sender.page.inputValue("#feed-form input[name=text]")).toBe("");
    expect(await sender.page.textContent("#feed-error")).toBe("");
    for (const tab of [sender, reader]) expect(tab.errors).toEqual([]);
  });

  it("resumes the feed by itself after a server restart, with what was posted meanwhile", async () => {
    context = await browser!.newContext();
    const channel = `restart-${Date.now()}`;
    const { page, logs, errors } = await openDemo(context, `${url()}/?channel=${channel}`);
    const run = Date.now();
    const a = await post(url(), `A ${run}`, channel);
    await waitFor("A in the feed", async () => (await feedOf(page)).length === 1, 10_000, logs);

    const port = Number(new URL(url()).port);
    await server!.stop();
    server = undefined;
    await waitFor("feed: onerror", () => logs.includes("feed: onerror"), 10_000, logs);
    expect(await page.textContent("#feed-note")).toMatch(/^Connection lost at /);
    server = await startServer(runtime, SETTINGS, { port });
    // Posted at once, so normally before the page's next try (RETRY_MS after the drop): they come
    // back as a replay after its Last-Event-ID. Had the page been quicker, they would come live.
    const b = await post(url(), `B ${run}`, channel);
    const c = await post(url(), `C ${run}`, channel);

    await waitFor("B and C in the feed", async () => (await feedOf(page)).length >= 3, 20_000, logs);
    await pause(500); // time for a duplicate to show up, if there were one
    const feed = await feedOf(page);
    expect(feed).toEqual([a, b, c].map((message) => ({ id: String(message.id), text: message.text })));
    expect(new Set(feed.map((entry) => entry.id)).size).toBe(feed.length);
    expect(logs).toContain("feed: onerror");
    expect(logs.filter((line) => line === "feed: onopen").length).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("open");
    // The page says it came back, and from where.
    expect(await page.textContent("#feed-note")).toContain(
      `resumed after id ${a.id} (Last-Event-ID, sent by this tab)`,
    );
    expect(await page.isVisible("#feed-note")).toBe(true);
    expect(errors.filter((error) => !STREAM_CUT.test(error))).toEqual([]);
  });

  it("keeps retrying through answers that are not a stream (a proxy's 502 page) and resumes from its last id", async () => {
    context = await browser!.newContext();
    const channel = `not-a-stream-${Date.now()}`;
    const { page, logs, errors } = await openDemo(context, `${url()}/?channel=${channel}`);
    const run = Date.now();
    const a = await post(url(), `A ${run}`, channel);
    await waitFor("A in the feed", async () => (await feedOf(page)).length === 1, 10_000, logs);

    // From now on a stream request gets a proxy's error page: EventSource would give up for good on
    // that; the client retries, with backoff.
    const streams = `**/api/channels/${channel}/messages/stream*`;
    let refused = 0;
    await page.route(streams, (route) => {
      refused++;
      return route.fulfill({ status: 502, contentType: "text/html", body: "<h1>502 Bad Gateway</h1>" });
    });
    const port = Number(new URL(url()).port);
    await server!.stop();
    server = undefined;
    server = await startServer(runtime, SETTINGS, { port });
    await waitFor("two error pages", () => refused >= 2, 20_000, logs);
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("connecting");
    await page.unroute(streams);
    // Posted while the page has no stream: only a resume from A's id can bring it.
    const b = await post(url(), `B ${run}`, channel);

    await waitFor("B in the feed", async () => (await feedOf(page)).length >= 2, 20_000, logs);
    await pause(500); // time for a duplicate to show up, if there were one
    expect(await feedOf(page)).toEqual([a, b].map((message) => ({ id: String(message.id), text: message.text })));
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("open");
    expect(await page.textContent("#feed-note")).toContain(
      `resumed after id ${a.id} (Last-Event-ID, sent by this tab)`,
    );
    expect(errors.filter((error) => !STREAM_CUT.test(error) && !BAD_GATEWAY.test(error))).toEqual([]);
  });

  it("shows the channel's last 20 messages at once on open, then live ones, each once and with its id", async () => {
    const channel = `history-${Date.now()}`;
    const posted = [];
    for (let i = 0; i < 25; i++) posted.push(await post(url(), `old ${i}`, channel));
    context = await browser!.newContext();
    const { page, logs, errors } = await openDemo(context, `${url()}/?channel=${channel}`);

    await waitFor("the history", async () => (await feedOf(page)).length >= 20, 10_000, logs);
    const live = await post(url(), "live", channel);
    await waitFor("the live message", async () => (await feedOf(page)).length >= 21, 10_000, logs);
    await pause(300); // time for a duplicate to show up, if there were one
    const expected = [...posted.slice(-20), live].map((message) => ({ id: String(message.id), text: message.text }));
    expect(await feedOf(page)).toEqual(expected);
    expect(await page.textContent(`#feed li[data-id="${live.id}"] .meta`)).toContain(`id ${live.id}`);
    expect(errors).toEqual([]);
  });

  it("follows ?channel=, and switches channel from the keyboard, updating the URL and back again", async () => {
    const run = Date.now();
    const [first, second] = [`first-${run}`, `second-${run}`];
    const waiting = await post(url(), "waiting in the second channel", second);
    context = await browser!.newContext();
    const { page, logs, errors } = await openDemo(context, `${url()}/?channel=${first}`);
    expect(await page.textContent("#channel-name")).toBe(first);
    const inFirst = await post(url(), "in the first channel", first);
    await waitFor("the first channel's message", async () => (await feedOf(page)).length === 1, 10_000, logs);

    // Keyboard only: focus the channel field, type, Enter.
    await page.focus("#channel");
    await page.fill("#channel", second);
    await page.keyboard.press("Enter");
    await waitFor("the second channel's history", async () => (await feedOf(page)).length === 1, 10_000, logs);
    expect(new URL(page.url()).searchParams.get("channel")).toBe(second);
    expect(await page.textContent("#channel-name")).toBe(second);
    expect(await feedOf(page)).toEqual([{ id: String(waiting.id), text: waiting.text }]);

    // The form posts to the channel followed; the one left behind no longer shows.
    await post(url(), "not followed any more", first);
    await page.fill("#feed-form input[name=text]", "sent from the page");
    await page.press("#feed-form input[name=text]", "Enter");
    await waitFor("the page's own message", async () => (await feedOf(page)).length === 2, 10_000, logs);
    await pause(300);
    expect((await feedOf(page)).map((entry) => entry.text)).toEqual([waiting.text, "sent from the page"]);
    const listed = await (await fetch(`${url()}/api/channels/${second}/messages`)).json();
    expect((listed as { messages: Message[] }).messages.map((message) => message.text)).toEqual([
      waiting.text,
      "sent from the page",
    ]);

    // Back goes back to the first channel, with its history.
    await page.goBack();
    await waitFor("the first channel again", async () => (await page.textContent("#channel-name")) === first, 10_000);
    await waitFor("its history", async () => (await feedOf(page)).length === 2, 10_000, logs);
    expect((await feedOf(page)).map((entry) => entry.text)).toEqual([inFirst.text, "not followed any more"]);
    expect(errors).toEqual([]);
  });

  it("shows how many pages follow the channel, live, as four pages come and one goes", async () => {
    const channel = `crowd-${Date.now()}`;
    // A context each: Chromium opens at most 6 connections per host and profile, and each page holds two streams.
    const contexts = await Promise.all([1, 2, 3, 4].map(() => browser!.newContext()));
    try {
      const pages: Demo[] = [];
      for (const each of contexts) pages.push(await openDemo(each, `${url()}/?channel=${channel}`));
      for (const [i, demo] of pages.entries()) {
        await waitFor(`4 on page ${i + 1}`, async () => (await countOf(demo.page)) === 4, 15_000, demo.logs);
      }
      expect(await pages[0]!.page.textContent("#presence")).toMatch(/4\s+subscribers on this channel right now/);
      // The server's own count agrees.
      const stats = (await (await fetch(`${url()}/api/channels/${channel}/messages/stats`)).json()) as {
        subscribers: number;
      };
      expect(stats.subscribers).toBe(4);

      await contexts[3]!.close();
      for (const [i, demo] of pages.slice(0, 3).entries()) {
        // On workerd the channel notices a closed page at its next write (a keep-alive at the latest).
        await waitFor(`3 on page ${i + 1}`, async () => (await countOf(demo.page)) === 3, 20_000, demo.logs);
      }
      for (const demo of pages.slice(0, 3)) expect(demo.errors).toEqual([]);
    } finally {
      await Promise.allSettled(contexts.map((each) => each.close()));
    }
  });

  it("draws the channel's messages per second in the chart as they arrive, leaving out the history", async () => {
    const channel = `chart-${Date.now()}`;
    for (let i = 0; i < 3; i++) await post(url(), `history ${i}`, channel);
    context = await browser!.newContext();
    const { page, logs, errors } = await openDemo(context, `${url()}/?channel=${channel}`);
    await waitFor("the history", async () => (await feedOf(page)).length === 3, 10_000, logs);
    expect(await page.getAttribute("#rate-chart", "data-total")).toBe("0");

    for (let i = 0; i < 6; i++) await post(url(), `live ${i}`, channel);
    const total = async () => Number(await page.getAttribute("#rate-chart", "data-total"));
    await waitFor("six in the chart", async () => (await total()) === 6, 10_000, logs);
    const bars = await page.$$eval("#rate-chart rect", (rects) =>
      rects.map((rect) => ({
        count: Number((rect as SVGElement).dataset.count),
        height: Number(rect.getAttribute("height")),
      })),
    );
    expect(bars).toHaveLength(60);
    expect(bars.reduce((sum, bar) => sum + bar.count, 0)).toBe(6);
    // A bar is drawn for each second that had messages, and only for those.
    for (const bar of bars) expect(bar.height > 0).toBe(bar.count > 0);
    expect(await page.textContent("#rate-total")).toBe("6");
    expect(Number(await page.textContent("#rate-peak"))).toBeGreaterThanOrEqual(1);
    expect(await page.getAttribute("#rate-chart", "aria-label")).toMatch(/^6 messages in the last minute/);
    expect(errors).toEqual([]);
  });

  it("fits a phone-sized screen, follows dark mode, and names every control for screen readers", async () => {
    const background = async (colorScheme: "light" | "dark") => {
      const each = await browser!.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, colorScheme });
      try {
        const { page, errors } = await openDemo(each, `${url()}/?channel=phone-${Date.now()}`);
        // Nothing wider than the screen: no sideways scrolling.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
        for (const name of ["Follow channel", "Message", "Your name"])
          await expect(page.getByLabel(name, { exact: true }).count()).resolves.toBe(1);
        for (const name of ["Follow", "Send"])
          await expect(page.getByRole("button", { name, exact: true }).count()).resolves.toBe(1);
        // The count and the feed are live regions: a screen reader hears them change.
        expect(await page.getAttribute("#presence", "role")).toBe("status");
        expect(await page.getAttribute("#feed", "aria-live")).toBe("polite");
        expect(errors).toEqual([]);
        return await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      } finally {
        await each.close();
      }
    };
    const [light, dark] = [await background("light"), await background("dark")];
    const luminance = (rgb: string) =>
      rgb
        .match(/\d+/g)!
        .slice(0, 3)
        .reduce((sum, part) => sum + Number(part), 0);
    expect(luminance(light)).toBeGreaterThan(600);
    expect(luminance(dark)).toBeLessThan(150);
  });
});
