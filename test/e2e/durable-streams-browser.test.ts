/**
 * Electric's `@durable-streams/client` (pinned) in real Chromium against our Node server: a page on
 * the server's origin creates a JSON stream, writes it with an idempotent producer and reads it live
 * over SSE, to the close; a second page reads it from another origin (CORS).
 */
import { build } from "esbuild";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { closeChromium, collectConsole, launchChromiumWith, startPageServer } from "../support/browser.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const MESSAGES = 50;

// Runs in the page: writes MESSAGES messages and a final one, and follows the stream over SSE.
const WRITE_AND_FOLLOW = `
  import { DurableStream, IdempotentProducer, stream } from "/__test/durable-streams-client.js";
  window.run = async (url, count) => {
    const handle = await DurableStream.create({ url, contentType: "application/json" });
    const response = await stream({ url, live: "sse", json: true });
    const seen = (async () => {
      const items = [];
      for await (const item of response.jsonStream()) items.push(item.n);
      return { items, closed: response.streamClosed };
    })();
    const producer = new IdempotentProducer(handle, "browser", { lingerMs: 1 });
    for (let n = 0; n < count; n++) producer.append(JSON.stringify({ n }));
    await producer.flush();
    await producer.close(JSON.stringify({ n: count }));
    return seen;
  };
  window.read = async (url) => (await (await stream({ url, live: false, json: true })).json()).map((item) => item.n);
  window.ready = true;
`;

describe("@durable-streams/client in Chromium", () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let pages: { origin: string; close(): Promise<void> };

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: ["@durable-streams/client"],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
    });
    const client = bundle.outputFiles[0]?.text ?? "";
    const page = `<!doctype html><script type="module">${WRITE_AND_FOLLOW}</script>`;
    ({ browser, server } = await launchChromiumWith(() => startServer("node", { PUBLISH_RATE_LIMIT: "0" })));
    context = await browser.newContext();
    // On the server's origin, the browser context itself answers for the page and the client.
    await context.route(`${server.url}/__test/**`, (route) => {
      const script = route.request().url().endsWith(".js");
      return route.fulfill({ contentType: script ? "text/javascript" : "text/html", body: script ? client : page });
    });
    // Another origin, served for real on loopback (a page the context made up would count as public,
    // and Chromium keeps public pages from loopback: Private Network Access).
    pages = await startPageServer((path) =>
      path.endsWith(".js")
        ? { contentType: "text/javascript", body: client }
        : { contentType: "text/html", body: page },
    );
  });
  afterAll(async () => {
    await closeChromium(browser);
    await server?.stop();
    await pages?.close();
  });

  it("writes with an idempotent producer and reads live over SSE to the close, then from another origin", async () => {
    const page = await context.newPage();
    const logged = collectConsole(page);
    onTestFailed(() => console.log("page console:", JSON.stringify(logged)));
    await page.goto(`${server.url}/__test/page.html`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const url = `${server.url}/v1/stream/browser-${Date.now()}`;
    const result = await page.evaluate(
      ([url, count]) =>
        (window as unknown as { run(u: string, c: number): Promise<{ items: number[]; closed: boolean }> }).run(
          url as string,
          count as number,
        ),
      [url, MESSAGES] as const,
    );
    const expected = Array.from({ length: MESSAGES + 1 }, (_, n) => n);
    expect(result).toEqual({ items: expected, closed: true });

    const elsewhere = await context.newPage();
    const loggedElsewhere = collectConsole(elsewhere);
    onTestFailed(() => console.log("other origin console:", JSON.stringify(loggedElsewhere)));
    await elsewhere.goto(`${pages.origin}/__test/page.html`);
    await elsewhere.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const read = await elsewhere.evaluate(
      (url) => (window as unknown as { read(u: string): Promise<number[]> }).read(url),
      url,
    );
    expect(read).toEqual(expected);
  });
});
