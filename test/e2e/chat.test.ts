/**
 * The demo page's chat in headless Chromium against the Node server: ask, reload mid-answer, and the
 * answer completes once, with no duplicated text; a second tab opened mid-answer streams the same
 * answer. Node only: the page is the same on every runtime, and the Worker's answers are tested with the
 * AI SDK's client (test/runtimes/ai-chat-workers.test.ts).
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { demoReply } from "../../src/app/demo-model.ts";
import { closeChromium, collectConsole, launchChromiumWith, type PageConsole, waitFor } from "../support/browser.ts";
import { type RunningServer, startServer } from "../support/server.ts";
import { PATIENCE_MS } from "../support/sse-reader.ts";

// Slow enough that a reload lands mid-answer (the answer takes dozens of these).
const SETTINGS = { DEMO_MODEL_DELAY_MS: "100" };

/** The conversation as the page shows it. */
function conversationOf(page: Page) {
  return page.$$eval("#chat-log li", (items) =>
    items.map((item) => ({
      role: (item as HTMLElement).dataset.role,
      text: item.textContent ?? "",
      streaming: (item as HTMLElement).dataset.state === "streaming",
    })),
  );
}

const answerText = async (page: Page) =>
  (await conversationOf(page)).find((item) => item.role === "assistant")?.text ?? "";
const statusOf = (page: Page) => page.getAttribute("#chat-status", "data-state");

describe("the demo chat in Chromium, served by Node", () => {
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    ({ browser, server } = await launchChromiumWith(() => startServer("node", SETTINGS)));
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await Promise.allSettled([closeChromium(browser), server?.stop()]);
  });

  it("finishes an answer once after a reload mid-answer, and streams it in a second tab", async () => {
    context = await browser!.newContext();
    const page = await context.newPage();
    const recorded: PageConsole = collectConsole(page);
    await page.goto(server!.url);
    const question = "does it survive a reload?";
    const expected = demoReply(question).join("");

    await page.fill("#chat-text", question);
    await page.click("#chat-form button[type=submit]");
    await waitFor("a few words of the answer", async () => (await answerText(page)).split(" ").length > 3, PATIENCE_MS);
    const before = await answerText(page);
    expect(expected.startsWith(before)).toBe(true);

    await page.reload();
    // A second tab of the same browser (same storage), opened while the answer streams.
    const second = await context.newPage();
    const secondConsole = collectConsole(second);
    await second.goto(server!.url);

    for (const tab of [page, second]) {
      await waitFor("the end of the answer", async () => (await statusOf(tab)) === "done", PATIENCE_MS, recorded);
      expect(await conversationOf(tab)).toEqual([
        { role: "user", text: question, streaming: false },
        { role: "assistant", text: expected, streaming: false },
      ]);
    }
    expect(recorded.errors.filter((error) => !/net::ERR_ABORTED|ERR_NETWORK_CHANGED/.test(error))).toEqual([]);
    expect(secondConsole.errors).toEqual([]);
  });
});
