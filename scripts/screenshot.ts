/**
 * Takes docs/demo.png: the demo page in headless Chromium, served by the Node entry, with a few
 * ticker events and two feed messages. Run with `npx tsx scripts/screenshot.ts`.
 */
import type { Browser } from "playwright-core";
import { closeChromium, collectConsole, launchChromium, waitFor } from "../test/support/browser.ts";
import { startServer } from "../test/support/server.ts";

const OUTPUT = new URL("../docs/demo.png", import.meta.url);
const MESSAGES = [
  { text: "Deployed the new build to the edge, all green.", author: "ada" },
  { text: "Nice, the feed picked it up in every open tab.", author: "grace" },
];
const TICKER_EVENTS = 4;

const server = await startServer("node");
let browser: Browser | undefined;
try {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const recorded = collectConsole(page);
  await page.goto(`${server.url}/?interval=500`);
  await waitFor("feed: onopen", () => recorded.logs.includes("feed: onopen"), 15_000, recorded);

  for (const message of MESSAGES) {
    const response = await fetch(`${server.url}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
    });
    if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  }

  const ticks = () => recorded.logs.filter((line) => line.startsWith("onmessage: ")).length;
  const shown = () => page.locator("#feed li[data-id]").count();
  await waitFor("the feed messages", async () => (await shown()) >= MESSAGES.length, 15_000, recorded);
  // Taken as soon as the events are in, with the stream still open (status: open).
  await waitFor("the ticker events", () => ticks() >= TICKER_EVENTS, 15_000, recorded);

  await page.screenshot({ path: OUTPUT.pathname });
  console.log(`wrote ${OUTPUT.pathname}`);
} finally {
  await closeChromium(browser);
  await server.stop();
}
