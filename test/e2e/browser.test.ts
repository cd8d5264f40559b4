/**
 * The demo page (static/index.html) in headless Chromium, against wrangler dev and Node: the
 * ticker's console lines, the live feed across tabs, and a feed that survives a server restart
 * through the browser's own reconnect and Last-Event-ID.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, collectConsole, launchChromium, type PageConsole, waitFor } from "../support/browser.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";

const ISO = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`;
const tick = (i: number) => new RegExp(`^onmessage: Middleware ${i} at (${ISO})$`);
// Short enough for a quick test, long enough to post over HTTP before the page comes back.
const SETTINGS = { RETRY_MS: "2000" };

// A stopped server cuts the open streams, and is not there for a moment: expected in a restart.
const STREAM_CUT = /^Failed to load resource: net::ERR_\w+ \(http:\/\/[^/]+\/(sse|api\/messages\/stream)\)$/;

// What Chromium logs for the error page above.
const BAD_GATEWAY =
  /^Failed to load resource: the server responded with a status of 502|^EventSource's response has a MIME type \("text\/html"\)/;

interface Message {
  id: number;
  text: string;
  author: string | null;
  createdAt: string;
}

interface Demo extends PageConsole {
  page: Page;
}

async function post(url: string, text: string): Promise<Message> {
  const response = await fetch(`${url}/api/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Message;
}

/** A page with its console recorded from the start, once its feed stream is open. */
async function openDemo(context: BrowserContext, url: string): Promise<Demo> {
  const page = await context.newPage();
  const recorded = collectConsole(page);
  await page.goto(url);
  await waitFor("feed: onopen", () => recorded.logs.includes("feed: onopen"), 15_000, recorded);
  return { page, ...recorded };
}

/** The feed as the page shows it: one entry per `#feed li[data-id]`, in page order. */
function feedOf(page: Page): Promise<{ id: string; text: string }[]> {
  return page.$$eval("#feed li[data-id]", (items) =>
    items.map((item) => ({
      id: (item as HTMLElement).dataset.id ?? "",
      text: item.querySelector(".text")?.textContent ?? "",
    })),
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each<Runtime>(["workerd", "node"])("the demo page in Chromium, served by %s", (runtime) => {
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    const [launched, started] = await Promise.allSettled([launchChromium(), startServer(runtime, SETTINGS)]);
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "fulfilled") server = started.value;
    // Rethrown after both settled, so afterAll can stop whichever did start.
    for (const result of [launched, started]) if (result.status === "rejected") throw result.reason;
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
    const { page, logs, errors } = await openDemo(context, `${url()}/`);
    const run = Date.now();
    const a = await post(url(), `A ${run}`);
    await waitFor("A in the feed", async () => (await feedOf(page)).length === 1, 10_000, logs);

    const port = Number(new URL(url()).port);
    await server!.stop();
    server = undefined;
    await waitFor("feed: onerror", () => logs.includes("feed: onerror"), 10_000, logs);
    server = await startServer(runtime, SETTINGS, { port });
    // Posted at once, so normally before the page's next try (RETRY_MS after the drop): they come
    // back as a replay after its Last-Event-ID. Had the page been quicker, they would come live.
    const b = await post(url(), `B ${run}`);
    const c = await post(url(), `C ${run}`);

    await waitFor("B and C in the feed", async () => (await feedOf(page)).length >= 3, 20_000, logs);
    await pause(500); // time for a duplicate to show up, if there were one
    const feed = await feedOf(page);
    expect(feed).toEqual([a, b, c].map((message) => ({ id: String(message.id), text: message.text })));
    expect(new Set(feed.map((entry) => entry.id)).size).toBe(feed.length);
    expect(logs).toContain("feed: onerror");
    expect(logs.filter((line) => line === "feed: onopen").length).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("open");
    expect(errors.filter((error) => !STREAM_CUT.test(error))).toEqual([]);
  });

  it("opens a new feed stream from its last id when an answer is not a stream and the browser gives up", async () => {
    context = await browser!.newContext();
    const { page, logs, errors } = await openDemo(context, `${url()}/`);
    const run = Date.now();
    const a = await post(url(), `A ${run}`);
    await waitFor("A in the feed", async () => (await feedOf(page)).length === 1, 10_000, logs);

    // From now on a stream request gets a proxy's error page: EventSource fails for good on that.
    await page.route("**/api/messages/stream*", (route) =>
      route.fulfill({ status: 502, contentType: "text/html", body: "<h1>502 Bad Gateway</h1>" }),
    );
    const port = Number(new URL(url()).port);
    await server!.stop();
    server = undefined;
    server = await startServer(runtime, SETTINGS, { port });
    const closed = async () => (await page.getAttribute("#feed-status", "data-state")) === "closed";
    await waitFor("the feed closed", closed, 20_000, logs);
    await page.unroute("**/api/messages/stream*");
    // Posted while the page has no stream: only a resume from A's id can bring it.
    const b = await post(url(), `B ${run}`);

    await waitFor("B in the feed", async () => (await feedOf(page)).length >= 2, 20_000, logs);
    await pause(500); // time for a duplicate to show up, if there were one
    expect(await feedOf(page)).toEqual([a, b].map((message) => ({ id: String(message.id), text: message.text })));
    expect(await page.getAttribute("#feed-status", "data-state")).toBe("open");
    expect(errors.filter((error) => !STREAM_CUT.test(error) && !BAD_GATEWAY.test(error))).toEqual([]);
  });
});
