/**
 * A private channel read by a browser's own EventSource from another origin: headless Chromium on
 * a page served by one loopback server opens `new EventSource(apiUrl, { withCredentials: true })`
 * to the app (Node, with AUTH_SECRET and CORS_ORIGINS) on another, carrying the token cookie, and
 * publishes with `fetch` and a bearer token (a CORS preflight). A page from an origin not in
 * CORS_ORIGINS, or a stream opened without credentials, is refused. Both origins are 127.0.0.1
 * (another port): cross-origin but same-site. A cross-site cookie needs `SameSite=None; Secure`,
 * so https, which this loopback test does not have.
 */
import { sign } from "hono/jwt";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeChromium, launchChromiumWith, startPageServer } from "../support/browser.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const SECRET = "a-browser-test-secret-of-32-bytes!";
const CHANNEL = "private-browser";

/** A page server on its own loopback port: another origin than the app's. */
const pageServer = () =>
  startPageServer(() => ({
    contentType: "text/html; charset=utf-8",
    body: "<!doctype html><title>another origin</title><p>app</p>",
  }));

interface Outcome {
  opened: boolean;
  status?: number;
  received?: string;
}

/** Runs in the page: opens the stream, publishes with fetch, reports what arrived. */
function streamAndPublish(args: { stream: string; publish: string; token: string; credentials: boolean }) {
  return new Promise<Outcome>((resolve) => {
    const source = new EventSource(args.stream, { withCredentials: args.credentials });
    const done = (outcome: Outcome) => {
      source.close();
      resolve(outcome);
    };
    let status: number | undefined;
    source.onerror = () => done({ opened: false });
    source.onopen = async () => {
      source.onerror = null;
      const timer = setTimeout(() => done({ opened: true, received: "nothing within 5 s" }), 5_000);
      source.onmessage = (event) => {
        clearTimeout(timer);
        done({ opened: true, status, received: (JSON.parse(event.data) as { text: string }).text });
      };
      const response = await fetch(args.publish, {
        method: "POST",
        headers: { authorization: `Bearer ${args.token}`, "content-type": "application/json" },
        body: JSON.stringify({ text: "from another origin" }),
      });
      status = response.status;
    };
  });
}

describe("a private channel from another origin in Chromium", () => {
  let browser: Browser | undefined;
  let api: RunningServer | undefined;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let refused: Awaited<ReturnType<typeof pageServer>>;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    allowed = await pageServer();
    refused = await pageServer();
    ({ browser, server: api } = await launchChromiumWith(() =>
      startServer("node", { AUTH_SECRET: SECRET, CORS_ORIGINS: allowed.origin }),
    ));
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await Promise.allSettled([closeChromium(browser), api?.stop()]);
    await Promise.all([allowed, refused].map((page) => page?.close()));
  });

  /** A browser context holding the token cookie for the app's host, on a page of `origin`. */
  async function pageOn(origin: string) {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const reader = await sign({ exp, sse: { subscribe: [CHANNEL] } }, SECRET);
    context = await browser!.newContext();
    // Hosts are the same site whatever the port, so a Lax cookie goes along with a credentialed request.
    await context.addCookies([
      { name: "edge_sse_token", value: reader, url: api!.url, httpOnly: true, sameSite: "Lax" },
    ]);
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    const token = await sign({ exp, sub: "browser", sse: { publish: [CHANNEL] } }, SECRET);
    const base = `${api!.url}/api/channels/${CHANNEL}/messages`;
    return (credentials: boolean) =>
      page.evaluate(streamAndPublish, { stream: `${base}/stream`, publish: base, token, credentials });
  }

  it("streams with the cookie to an EventSource opened withCredentials from an allowed origin", async () => {
    const run = await pageOn(allowed.origin);
    expect(await run(true)).toEqual({ opened: true, status: 201, received: "from another origin" });
  });

  it("refuses the stream without credentials (no cookie: 401) and from an origin not allowed", async () => {
    expect(await (await pageOn(allowed.origin))(false)).toEqual({ opened: false });
    await context?.close();
    expect(await (await pageOn(refused.origin))(true)).toEqual({ opened: false });
  });
});
