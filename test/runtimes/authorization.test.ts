/**
 * Authorization under every runtime, as real server processes started with AUTH_SECRET: the
 * `eventsource` client subscribes to a private channel with `?authorization=` and with the token
 * cookie, a publisher posts with a bearer token, and both see the message. The publish rate limit
 * counts per client address (each entry's `clientAddress`), seen from two loopback addresses.
 */
import { request as httpRequest } from "node:http";
import { EventSource } from "eventsource";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RunningServer, startServer } from "../support/server.ts";
import { PATIENCE_MS } from "../support/sse-reader.ts";

const SECRET = "a-runtime-test-secret-of-32-bytes!";
const RATE_LIMIT = 3;

const token = (sse: { publish?: string[]; subscribe?: string[] }, sub?: string) =>
  sign({ ...(sub === undefined ? {} : { sub }), exp: Math.floor(Date.now() / 1000) + 120, sse }, SECRET);

/** An EventSource that collects message texts; `opened` settles on open or on the first error. */
function subscribe(url: string, init?: ConstructorParameters<typeof EventSource>[1]) {
  const source = new EventSource(url, init);
  const texts: string[] = [];
  const opened = new Promise<void>((resolve, reject) => {
    source.onopen = () => resolve();
    source.onerror = (error) => reject(new Error(`EventSource failed: ${error.code ?? ""} ${error.message ?? ""}`));
  });
  source.onmessage = (event) => texts.push((JSON.parse(event.data) as { text: string }).text);
  return { source, texts, opened };
}

/** POST from a chosen loopback address (Linux routes all of 127/8 to lo), for per-address limits. */
function postFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ text: `from ${localAddress}` });
    const req = httpRequest(url, {
      method: "POST",
      localAddress,
      headers: { "content-type": "application/json", ...headers },
    });
    req.on("response", (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe.each(RUNTIMES)("authorization on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, {
      AUTH_SECRET: SECRET,
      PUBLISH_RATE_LIMIT: String(RATE_LIMIT),
      KEEP_ALIVE_MS: "300",
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("delivers a bearer-authorized publish to private subscribers with ?authorization= and with the cookie", async () => {
    const channel = `private-rt-${Date.now()}`;
    const base = `${server.url}/api/channels/${channel}/messages`;
    const reader = await token({ subscribe: [channel] });

    const refused = await fetch(`${base}/stream`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe("Bearer");
    await refused.body?.cancel();

    const byQuery = subscribe(`${base}/stream?authorization=${reader}`);
    const byCookie = subscribe(`${base}/stream`, {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...init.headers, cookie: `edge_sse_token=${reader}` } }),
    });
    try {
      await Promise.all([byQuery.opened, byCookie.opened]);
      const headers = { "content-type": "application/json" };
      const unauthorized = await fetch(base, { method: "POST", headers, body: JSON.stringify({ text: "no" }) });
      expect(unauthorized.status).toBe(401);
      const publisher = await token({ publish: ["private-*"] }, "publisher");
      const sent = await fetch(base, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer ${publisher}` },
        body: JSON.stringify({ text: "for members" }),
      });
      expect(sent.status).toBe(201);
      await waitFor(() => byQuery.texts.length > 0 && byCookie.texts.length > 0, PATIENCE_MS);
      expect(byQuery.texts).toEqual(["for members"]);
      expect(byCookie.texts).toEqual(["for members"]);
    } finally {
      byQuery.source.close();
      byCookie.source.close();
    }
  });

  it(`limits tokens without a subject to ${RATE_LIMIT} publishes a minute per client address`, async () => {
    const url = `${server.url}/api/channels/rate-${Date.now()}/messages`;
    const headers = { authorization: `Bearer ${await token({ publish: ["*"] })}` };
    const first: number[] = [];
    for (let i = 0; i <= RATE_LIMIT; i++) first.push(await postFrom("127.0.0.2", url, headers));
    expect(first).toEqual([...Array(RATE_LIMIT).fill(201), 429]);
    expect(await postFrom("127.0.0.3", url, headers)).toBe(201);
  });
});
