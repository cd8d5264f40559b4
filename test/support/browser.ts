/**
 * Headless Chromium for the browser tests: Debian's build (installed by `npm test`'s setup step,
 * scripts/setup.mjs), driven by playwright-core, which brings no browser of its own.
 */
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium, type Page } from "playwright-core";
import type { RunningServer } from "./server.ts";

export const CHROMIUM_PATH = "/usr/bin/chromium";

// Nothing but the page under test: no GPU, no QUIC, no background calls to Google, no updates.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches Chromium with a fresh temporary profile (playwright creates and removes it). */
export async function launchChromium(): Promise<Browser> {
  // Fail loudly: a skipped browser test would look like a passing one.
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: run npm test (its setup step installs it) or apt-get install -y chromium`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

/**
 * Chromium and the server under test, started together. If either fails to start, the other is
 * stopped before the error is thrown, so that no test leaves a process behind.
 */
export async function launchChromiumWith(
  start: () => Promise<RunningServer>,
): Promise<{ browser: Browser; server: RunningServer }> {
  const [launched, started] = await Promise.allSettled([launchChromium(), start()]);
  if (launched.status === "fulfilled" && started.status === "fulfilled") {
    return { browser: launched.value, server: started.value };
  }
  await Promise.allSettled([
    launched.status === "fulfilled" ? closeChromium(launched.value) : undefined,
    started.status === "fulfilled" ? started.value.stop() : undefined,
  ]);
  throw launched.status === "rejected" ? launched.reason : (started as PromiseRejectedResult).reason;
}

/**
 * A real loopback HTTP server that answers every path with `page(path)`: a page of another origin
 * (one that a browser context made up with page.route would count as public, and Chromium's Private
 * Network Access keeps public pages from loopback).
 */
export async function startPageServer(
  page: (path: string) => { contentType: string; body: string },
): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const { contentType, body } = page(request.url ?? "/");
    response.writeHead(200, { "content-type": contentType });
    response.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Closes the browser, and with it every page and the temporary profile; safe to call twice. */
export async function closeChromium(browser: Browser | undefined): Promise<void> {
  if (browser?.isConnected()) await browser.close();
}

/** What a page reported, in order of arrival. */
export interface PageConsole {
  /** The page's own `console.log` lines. */
  logs: string[];
  /** `console.error` lines, resources that failed to load (with their URL), uncaught exceptions. */
  errors: string[];
}

/**
 * Records what the page logs, from its first script on. Attach it before `page.goto`: lines
 * logged earlier are not kept by the browser.
 */
export function collectConsole(page: Page): PageConsole {
  const recorded: PageConsole = { logs: [], errors: [] };
  page.on("console", (message) => {
    if (message.type() === "log") recorded.logs.push(message.text());
    // The browser's own notes (a 404, a refused connection) carry the URL only in their location.
    else if (message.type() === "error") recorded.errors.push(`${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => {
    recorded.errors.push(`uncaught: ${error.message}`);
  });
  return recorded;
}

/**
 * Waits for `condition` to hold, polling. On timeout the error says what was awaited and shows
 * `seen` (say, the page's live console arrays) as it is then.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  seen?: unknown,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; seen: ${JSON.stringify(seen, null, 2)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
