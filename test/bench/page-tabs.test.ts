/**
 * `npm run bench:page` in short: three tabs of the demo page in one Chromium profile, the three ways
 * (the EventSource page of before, today's page with ?share=0, today's page shared). It checks what
 * the benchmark counts, never its timings or heap figures: the server holds a feed and a ticker stream
 * per tab for the first two and one of each for the shared page, and every tab shows a message posted
 * once all are open.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measurePage, pageTable, type Way } from "../../bench/page-tabs.ts";
import { closeChromium, launchChromiumWith } from "../support/browser.ts";
import { type RunningServer, startServer } from "../support/server.ts";

describe("the page benchmark, in short", () => {
  let browser: Browser | undefined;
  let server: RunningServer | undefined;

  beforeAll(async () => {
    ({ browser, server } = await launchChromiumWith(() => startServer("node", { PUBLISH_RATE_LIMIT: "0" })));
  });
  afterAll(async () => {
    await Promise.allSettled([closeChromium(browser), server?.stop()]);
  });

  it("counts one feed and one ticker stream per tab for pages of their own, two for three shared tabs", async () => {
    const expected: Record<Way, number> = { eventsource: 6, own: 6, shared: 2 };
    const results = [];
    for (const way of ["eventsource", "own", "shared"] as const) {
      const result = await measurePage(browser!, server!, way, 3);
      results.push(result);
      expect(result).toMatchObject({ way, tabs: 3, serverStreams: expected[way], tabsOpen: 3, tabsDelivered: 3 });
      expect(result.heapPerTab).toBeGreaterThan(0);
    }
    expect(pageTable(results).split("\n")).toHaveLength(2 + 3);
  });
});
