/**
 * `npm run bench:page`: what the demo page costs per browser, with 1, 3 and 10 tabs of it open on one
 * origin in one Chromium profile, in three ways:
 *
 *   eventsource  the page before edge-sse/client: a browser EventSource per stream per tab
 *                (bench/page/eventsource.html, served on the server's origin)
 *   own          today's page with ?share=0: edge-sse/client, a connection per stream per tab
 *   shared       today's page: edge-sse/client with `share`, a connection per stream for all the tabs
 *
 * For each: the streams the server holds once the tabs are open (`/api/stats` activeStreams: the feed
 * and the ticker of each connection), how many tabs got their feed open, how many show a message
 * posted afterwards, and the JavaScript heap of a tab that opened (CDP `Performance.getMetrics`,
 * JSHeapUsedSize, averaged). A browser opens at most 6 connections per host and profile over
 * HTTP/1.1, for all tabs together: past 3 tabs with two streams each, a tab cannot even load.
 *
 *   npm run bench:page                          1, 3 and 10 tabs, the three ways (about two minutes)
 *   npm run bench:page -- --tabs=1,3 --ways=shared,own
 *
 * Writes bench/results/page-tabs.json and prints a Markdown table. One Node server on loopback and one
 * headless Chromium, both stopped at the end.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { closeChromium, launchChromiumWith } from "../test/support/browser.ts";
import { feedOf, post } from "../test/support/demo-page.ts";
import type { RunningServer } from "../test/support/server.ts";
import { startServer } from "../test/support/server.ts";

/** The demo page before edge-sse/client (static/index.html at commit 26a913d), kept as it was. */
export const EVENTSOURCE_PAGE = fileURLToPath(new URL("page/eventsource.html", import.meta.url));
export const WAYS = ["eventsource", "own", "shared"] as const;
export type Way = (typeof WAYS)[number];

/** How long the tabs get to open their streams, and a message to reach them: a stalled tab never does. */
const OPEN_WITHIN_MS = 20_000;
const DELIVERED_WITHIN_MS = 10_000;

export interface PageMeasurement {
  way: Way;
  tabs: number;
  /** Streams open at the server with every tab opened (feed and ticker per connection). */
  serverStreams: number;
  /** Tabs whose feed and ticker streams both opened (their console said `feed: onopen` and `onopen`). */
  tabsOpen: number;
  /** Tabs that showed a message posted once they were open. */
  tabsDelivered: number;
  /** JSHeapUsedSize averaged over the tabs that opened, bytes. */
  heapPerTab: number;
}

const activeStreams = async (server: RunningServer) =>
  ((await (await fetch(`${server.url}/api/stats`)).json()) as { activeStreams: number }).activeStreams;

/** Polls `condition` until it holds or `withinMs` has passed (a stalled tab makes it wait it out). */
async function until(condition: () => boolean | Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** One measurement: `tabs` tabs of the page in a fresh profile, then the profile closed. */
export async function measurePage(
  browser: Browser,
  server: RunningServer,
  way: Way,
  tabs: number,
): Promise<PageMeasurement> {
  const context = await browser.newContext();
  try {
    const channel = `bench-page-${way}-${tabs}-${Date.now()}`;
    let path = `/?channel=${channel}`;
    if (way === "own") path += "&share=0";
    if (way === "eventsource") {
      const oldPage = readFileSync(EVENTSOURCE_PAGE, "utf8");
      path = `/eventsource.html?channel=${channel}`;
      await context.route(`${server.url}/eventsource.html*`, (route) =>
        route.fulfill({ contentType: "text/html; charset=utf-8", body: oldPage }),
      );
    }
    const feedOpen = new Set<number>();
    const tickerOpen = new Set<number>();
    const opened = () => [...feedOpen].filter((tab) => tickerOpen.has(tab)).length;
    const pages: Page[] = [];
    for (let i = 0; i < tabs; i++) {
      const page = await context.newPage();
      page.on("console", (message) => {
        if (message.text() === "feed: onopen") feedOpen.add(i);
        if (message.text() === "onopen") tickerOpen.add(i);
      });
      pages.push(page);
      // A tab past the browser's connection limit never loads: it is left waiting, not awaited.
      void page.goto(`${server.url}${path}`, { timeout: OPEN_WITHIN_MS * 2 }).catch(() => {});
    }
    await until(() => opened() === tabs, OPEN_WITHIN_MS);
    // Counted by the server before it answered, so every stream a tab saw open is in.
    const serverStreams = await activeStreams(server);
    const tabsOpen = opened();

    const message = await post(server.url, "one for every tab", channel);
    let tabsDelivered = 0;
    await until(async () => {
      tabsDelivered = 0;
      for (const page of pages) {
        const feed = await feedOf(page).catch(() => []);
        if (feed.some((entry) => entry.id === String(message.id))) tabsDelivered++;
      }
      return tabsDelivered >= tabsOpen;
    }, DELIVERED_WITHIN_MS);

    let heap = 0;
    for (const [i, page] of pages.entries()) {
      if (!feedOpen.has(i) || !tickerOpen.has(i)) continue;
      const session = await context.newCDPSession(page);
      await session.send("Performance.enable");
      const { metrics } = await session.send("Performance.getMetrics");
      heap += metrics.find((metric) => metric.name === "JSHeapUsedSize")?.value ?? 0;
      await session.detach();
    }
    return { way, tabs, serverStreams, tabsOpen, tabsDelivered, heapPerTab: Math.round(heap / Math.max(1, tabsOpen)) };
  } finally {
    await context.close();
    // The next measurement starts from a server that holds nothing.
    const deadline = Date.now() + 10_000;
    while ((await activeStreams(server)) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function pageTable(results: PageMeasurement[]): string {
  const rows = results.map(
    (result) =>
      `| ${result.way} | ${result.tabs} | ${result.serverStreams} | ${result.tabsOpen} | ${result.tabsDelivered} | ${(result.heapPerTab / 1024 / 1024).toFixed(2)} MB |`,
  );
  return [
    "| page | tabs | streams at the server | tabs open | tabs that got a message | JS heap per tab |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

function option(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const tabCounts = (option("tabs") ?? "1,3,10").split(",").map(Number);
  const ways = (option("ways")?.split(",") ?? [...WAYS]) as Way[];
  const { browser, server } = await launchChromiumWith(() => startServer("node", { PUBLISH_RATE_LIMIT: "0" }));
  const results: PageMeasurement[] = [];
  try {
    for (const tabs of tabCounts) {
      for (const way of ways) {
        const result = await measurePage(browser, server, way, tabs);
        console.log(JSON.stringify(result));
        results.push(result);
      }
    }
  } finally {
    await Promise.allSettled([closeChromium(browser), server.stop()]);
  }
  const folder = fileURLToPath(new URL("results", import.meta.url));
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, "page-tabs.json"),
    `${JSON.stringify({ started: new Date().toISOString(), results }, null, 2)}\n`,
  );
  console.log(`\n${pageTable(results)}`);
}

if (process.argv[1]?.endsWith("page-tabs.ts")) await main();
