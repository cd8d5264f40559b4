/**
 * Takes the README's screenshots of the demo page in headless Chromium, served by the Node entry:
 * light and dark, desktop and phone (docs/demo.png, demo-dark.png, demo-phone.png,
 * demo-phone-dark.png), all following one channel while messages are posted for a few seconds, so
 * the feed, the subscriber count and the chart have something to show. Run with
 * `npx tsx scripts/screenshot.ts`.
 */
import type { Browser, BrowserContextOptions } from "playwright-core";
import { closeChromium, collectConsole, launchChromium, waitFor } from "../test/support/browser.ts";
import { startServer } from "../test/support/server.ts";

const SHOTS: { file: string; options: BrowserContextOptions }[] = [
  { file: "demo.png", options: { viewport: { width: 1100, height: 1060 }, colorScheme: "light" } },
  { file: "demo-dark.png", options: { viewport: { width: 1100, height: 1060 }, colorScheme: "dark" } },
  {
    file: "demo-phone.png",
    options: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, colorScheme: "light" },
  },
  {
    file: "demo-phone-dark.png",
    options: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, colorScheme: "dark" },
  },
];
const CHANNEL = "launch";
const BEFORE = [
  { text: "Morning! Staging is green, shipping the edge build at ten.", author: "ada" },
  { text: "Durable Object migration ran clean in every region.", author: "linus" },
  { text: "p99 fan-out on Bun is under the target, see docs/benchmarks.md", author: "grace" },
];
const DURING = [
  { text: "Deploying now, watch this channel.", author: "ada" },
  { text: "10% of traffic on the new build.", author: "ada" },
  { text: "Error rate flat, latency flat.", author: "grace" },
  { text: "50%.", author: "ada" },
  { text: "Reconnects resume with Last-Event-ID, nothing lost.", author: "linus" },
  { text: "100%. Thanks all!", author: "ada" },
];
// Messages per second for the few seconds before the shot: a chart with some shape to it.
const BURSTS = [1, 3, 2, 5, 8, 4, 2, 6, 3, 1];

const server = await startServer("node");
let browser: Browser | undefined;
const post = async (message: { text: string; author: string }) => {
  const response = await fetch(`${server.url}/api/channels/${CHANNEL}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(message),
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
};
try {
  browser = await launchChromium();
  for (const message of BEFORE) await post(message);
  const pages = [];
  for (const shot of SHOTS) {
    // A context each: Chromium opens at most 6 connections per host and profile, and each page holds two streams.
    const context = await browser.newContext(shot.options);
    const page = await context.newPage();
    const recorded = collectConsole(page);
    await page.goto(`${server.url}/?channel=${CHANNEL}&interval=1000`);
    await waitFor("feed: onopen", () => recorded.logs.includes("feed: onopen"), 15_000, recorded);
    pages.push({ ...shot, page, recorded });
  }

  // The load first, a second at a time; then the people, who are what the feed shows on top.
  for (const [second, burst] of BURSTS.entries()) {
    for (let i = 0; i < burst; i++) await post({ text: `load ${second + 1}.${i + 1}`, author: "bench" });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  for (const message of DURING) {
    await post(message);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }

  const expected = Math.min(20, BEFORE.length) + BURSTS.reduce((sum, n) => sum + n, 0) + DURING.length;
  for (const { page, recorded } of pages) {
    const shown = () => page.locator("#feed li[data-id]").count();
    await waitFor("the feed messages", async () => (await shown()) >= expected, 15_000, recorded);
    await waitFor(
      "the count",
      async () => (await page.getAttribute("#subscriber-count", "data-count")) === String(SHOTS.length),
      15_000,
    );
  }
  for (const { file, page } of pages) {
    const path = new URL(`../docs/${file}`, import.meta.url).pathname;
    // The phone shots show the whole page: how it stacks is the point.
    await page.screenshot({ path, fullPage: file.includes("phone") });
    console.log(`wrote ${path}`);
  }
} finally {
  await closeChromium(browser);
  await server.stop();
}
