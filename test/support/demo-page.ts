/**
 * The demo page (static/index.html) as the browser tests drive it: opened in a tab with its console
 * recorded, its feed, count and stream holder read back from the page, and messages posted to it.
 */
import type { BrowserContext, Page } from "playwright-core";
import { collectConsole, type PageConsole, waitFor } from "./browser.ts";

export interface Message {
  id: number;
  text: string;
  author: string | null;
  createdAt: string;
}

export interface Demo extends PageConsole {
  page: Page;
}

export async function post(url: string, text: string, channel = "default"): Promise<Message> {
  const response = await fetch(`${url}/api/channels/${channel}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Message;
}

/** A page with its console recorded from the start, once its feed stream is open. */
export async function openDemo(context: BrowserContext, url: string): Promise<Demo> {
  const page = await context.newPage();
  const recorded = collectConsole(page);
  await page.goto(url);
  await waitFor("feed: onopen", () => recorded.logs.includes("feed: onopen"), 15_000, recorded);
  return { page, ...recorded };
}

/** The subscriber count the page shows (`#subscriber-count`), or undefined before the first. */
export async function countOf(page: Page): Promise<number | undefined> {
  const count = await page.getAttribute("#subscriber-count", "data-count");
  return count ? Number(count) : undefined;
}

/** The feed as the page shows it: one entry per `#feed li[data-id]`, in page order. */
export function feedOf(page: Page): Promise<{ id: string; text: string }[]> {
  return page.$$eval("#feed li[data-id]", (items) =>
    items.map((item) => ({
      id: (item as HTMLElement).dataset.id ?? "",
      text: item.querySelector(".text")?.textContent ?? "",
    })),
  );
}

/** Who holds the feed's connection, as the page says: held by this tab, shared by another tab, this tab's own. */
export async function holderOf(page: Page): Promise<string> {
  return (await page.textContent("#feed-holder")) ?? "";
}

/** The ticker's event ids as the page shows them in `#log`, in order. */
export function tickerIdsOf(page: Page): Promise<number[]> {
  return page.$$eval("#log li .id", (tags) => tags.map((tag) => Number(/\d+/.exec(tag.textContent ?? "")?.[0])));
}
