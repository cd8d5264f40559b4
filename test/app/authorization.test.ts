/**
 * Authorization, CORS and the publish rate limit in-process (Hono's `app.request`), with tokens
 * made by hono/jwt's `sign`. Every refusal is the JSON error shape with its RFC 6750 challenge and
 * stores nothing. The same app under workerd and real servers: test/workers, test/runtimes.
 */
import { sign } from "hono/jwt";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { DEFAULT_CONFIG, readConfig } from "../../src/config.ts";
import { readEvents } from "../support/sse-reader.ts";

const SECRET = "a-test-secret-that-is-32-bytes-long!";
const now = () => Math.floor(Date.now() / 1000);

type Grants = { publish?: unknown; subscribe?: unknown };
const token = (sse: Grants, claims: Record<string, unknown> = {}, secret = SECRET, alg: "HS256" | "HS384" = "HS256") =>
  sign({ sub: "tester", exp: now() + 60, sse, ...claims }, secret, alg);

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** An unsigned token (`alg: none`, RFC 7519 §6): must never be accepted. */
const unsignedToken = (payload: unknown) => `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`;

const authApp = (settings: Record<string, string> = {}, clientAddress?: (c: unknown) => string) =>
  createApp(readConfig({ AUTH_SECRET: SECRET, ...settings }), { clientAddress });

const path = (channel: string) => (channel === "default" ? "/api/messages" : `/api/channels/${channel}/messages`);

function publish(app: ReturnType<typeof createApp>, channel: string, bearer?: string, headers: HeadersInit = {}) {
  return app.request(path(channel), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
      ...headers,
    },
    body: JSON.stringify({ text: "hello" }),
  });
}

/** Messages kept in a channel, read with a token that may read everything. */
async function storedCount(app: ReturnType<typeof createApp>, channel: string): Promise<number> {
  const reader = await token({ subscribe: ["*"] });
  const response = await app.request(`${path(channel)}?limit=1000`, { headers: { authorization: `Bearer ${reader}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: unknown[] }).messages.length;
}

async function expectError(response: Response, status: number, code: string, challenge?: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
  if (challenge) expect(response.headers.get("www-authenticate")).toMatch(challenge);
}

describe("publishing with authorization on", () => {
  it("refuses a publish without a token: 401 with a bare Bearer challenge, nothing stored", async () => {
    const app = authApp();
    await expectError(await publish(app, "news"), 401, "unauthorized", /^Bearer$/);
    expect(await storedCount(app, "news")).toBe(0);
  });

  it.each([
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["no token after Bearer", "Bearer"],
    ["two tokens", "Bearer a.b.c d.e.f"],
    ["characters a token cannot have", 'Bearer a"b'],
  ])("refuses a malformed Authorization header (%s) with invalid_request", async (_, header) => {
    const app = authApp();
    await expectError(
      await publish(app, "news", undefined, { authorization: header }),
      401,
      "unauthorized",
      /^Bearer error="invalid_request"/,
    );
    expect(await storedCount(app, "news")).toBe(0);
  });

  it.each([
    ["not a JWT", async () => "not-a-jwt"],
    ["three parts of garbage", async () => "abc.def.ghi"],
    ["signed with another secret", () => token({ publish: ["*"] }, {}, "another-secret-that-is-32-bytes-long")],
    ["expired", () => token({ publish: ["*"] }, { exp: now() - 10 })],
    ["not yet valid (nbf)", () => token({ publish: ["*"] }, { nbf: now() + 600 })],
    ["signed with HS384 where HS256 is configured", () => token({ publish: ["*"] }, {}, SECRET, "HS384")],
    ["unsigned (alg: none)", async () => unsignedToken({ sub: "x", sse: { publish: ["*"] } })],
  ])("refuses a token that is %s: 401 invalid_token, nothing stored, the token never echoed", async (_, make) => {
    const app = authApp();
    const bad = await make();
    const response = await publish(app, "news", bad);
    const text = await response.clone().text();
    await expectError(response, 401, "unauthorized", /^Bearer error="invalid_token", error_description="[^"]+"$/);
    expect(text).not.toContain(bad.split(".")[1] || bad);
    expect(await storedCount(app, "news")).toBe(0);
  });

  it("names the reason for an expired token and an unsigned one", async () => {
    const app = authApp();
    const expired = await publish(app, "news", await token({ publish: ["*"] }, { exp: now() - 10 }));
    expect(((await expired.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
    const unsigned = await publish(app, "news", unsignedToken({ sse: { publish: ["*"] } }));
    expect(((await unsigned.json()) as { error: { message: string } }).error.message).toMatch(/signed with HS256/);
  });

  it("refuses a valid token that does not name the channel: 403 insufficient_scope, nothing stored", async () => {
    const app = authApp();
    const response = await publish(app, "news", await token({ publish: ["sport", "team-*"], subscribe: ["news"] }));
    await expectError(response, 403, "forbidden", /^Bearer error="insufficient_scope"/);
    expect(await storedCount(app, "news")).toBe(0);
  });

  it.each([
    ["no sse claim", {}],
    ["publish as a string", { sse: { publish: "news" } }],
    ["publish with a number", { sse: { publish: [42] } }],
    ["sse as a string", { sse: "publish" }],
  ])("treats malformed grants (%s) as granting nothing: 403, never a 5xx", async (_, claims) => {
    const app = authApp();
    const signed = await sign({ exp: now() + 60, ...claims }, SECRET);
    await expectError(await publish(app, "news", signed), 403, "forbidden");
  });

  it.each([
    ["its exact name", ["news"], "news"],
    ["a prefix pattern", ["team-*"], "team-red"],
    ["`*`", ["*"], "anything"],
    ["its name, for the default channel", ["default"], "default"],
  ])("allows a publish whose token names the channel by %s", async (_, publish_, channel) => {
    const app = authApp();
    const response = await publish(app, channel, await token({ publish: publish_ }));
    expect(response.status).toBe(201);
    expect(await storedCount(app, channel)).toBe(1);
  });

  it("matches a prefix pattern only at the start: team-* does not allow teams or my-team-red", async () => {
    const app = authApp();
    const teams = await token({ publish: ["team-*"] });
    expect((await publish(app, "teams", teams)).status).toBe(403);
    expect((await publish(app, "my-team-red", teams)).status).toBe(403);
  });

  it("checks the token before the body: a refused publish with a bad body is still a 401", async () => {
    const app = authApp();
    const response = await app.request("/api/messages", { method: "POST", body: "x" });
    await expectError(response, 401, "unauthorized");
  });

  it("does not take a publish token from the cookie or the query (a cross-site form would send the cookie)", async () => {
    const app = authApp();
    const granted = await token({ publish: ["*"] });
    await expectError(
      await publish(app, "news", undefined, { cookie: `edge_sse_token=${granted}` }),
      401,
      "unauthorized",
    );
    const viaQuery = await app.request(`${path("news")}?authorization=${granted}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "x" }),
    });
    await expectError(viaQuery, 401, "unauthorized");
  });
});

describe("reading private channels with authorization on", () => {
  const reader = () => token({ subscribe: ["private-*"] });

  it.each([
    ["stream", (channel: string) => `${path(channel)}/stream`],
    ["history", (channel: string) => path(channel)],
    ["stats", (channel: string) => `${path(channel)}/stats`],
  ])("refuses a private channel's %s without a token: 401 with a bare Bearer challenge", async (_, url) => {
    const app = authApp();
    await expectError(await app.request(url("private-team")), 401, "unauthorized", /^Bearer$/);
  });

  it("refuses a token that does not name the private channel with 403, and a bad one with 401", async () => {
    const app = authApp();
    const other = await token({ subscribe: ["private-other"], publish: ["*"] });
    const response = await app.request(`${path("private-team")}/stream`, {
      headers: { authorization: `Bearer ${other}` },
    });
    await expectError(response, 403, "forbidden", /insufficient_scope/);
    const expired = await token({ subscribe: ["*"] }, { exp: now() - 1 });
    await expectError(
      await app.request(`${path("private-team")}?authorization=${expired}`),
      401,
      "unauthorized",
      /invalid_token/,
    );
    await expectError(
      await app.request(path("private-team"), { headers: { cookie: "edge_sse_token=garbage" } }),
      401,
      "unauthorized",
      /invalid_token/,
    );
  });

  it("refuses two ?authorization= tokens", async () => {
    const app = authApp();
    const granted = await reader();
    const response = await app.request(
      `${path("private-team")}/stream?authorization=${granted}&authorization=${granted}`,
    );
    await expectError(response, 401, "unauthorized", /invalid_request/);
  });

  it.each([
    ["the Authorization header", async (t: string) => ({ url: "", headers: { authorization: `Bearer ${t}` } })],
    ["the cookie", async (t: string) => ({ url: "", headers: { cookie: `theme=dark; edge_sse_token=${t}` } })],
    ["?authorization=", async (t: string) => ({ url: `?authorization=${t}&lastEventId=0`, headers: {} })],
  ])("streams a private channel to a token passed in %s, and delivers a publish", async (_, how) => {
    const app = authApp();
    const { url, headers } = await how(await reader());
    const response = await app.request(`${path("private-team")}/stream${url}`, { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = readEvents(response);
    await events.opened();
    const sent = await publish(app, "private-team", await token({ publish: ["private-team"] }));
    expect(sent.status).toBe(201);
    const event = await events.next();
    expect(JSON.parse(event.data)).toMatchObject({ text: "hello" });
    await events.cancel();
  });

  it("ends a stream when its token expires, with token-expired and a retry, and nothing published after", async () => {
    // The clock is the test's: the expiry comes when the test says, however slow the machine.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const app = authApp({ RETRY_MS: "1500" });
    const expiring = await token({ subscribe: ["private-team"] }, { exp: now() + 60 });
    const response = await app.request(`${path("private-team")}/stream?authorization=${expiring}`);
    expect(response.status).toBe(200);
    const events = readEvents(response);
    await events.opened();
    const publisher = await token({ publish: ["private-team"] }, { exp: now() + 3600 });
    expect((await publish(app, "private-team", publisher)).status).toBe(201);
    expect(JSON.parse((await events.next()).data)).toMatchObject({ text: "hello" });

    vi.advanceTimersByTime(61_000);
    const ended = await events.next();
    expect(ended.event).toBe("token-expired");
    expect(JSON.parse(ended.data)).toEqual({ error: { code: "token_expired", message: expect.any(String) } });
    expect(events.retries.at(-1)).toBe(1500);
    await expect(events.next()).rejects.toThrow("stream ended");
    // The stream is gone: what is published now reaches no one on it.
    expect((await publish(app, "private-team", publisher)).status).toBe(201);
    expect((await (await app.request("/api/stats")).json()) as { activeStreams: number }).toMatchObject({
      activeStreams: 0,
    });
  });

  it("keeps a private channel's history and stats out of shared caches, and a stream's own header", async () => {
    const app = authApp();
    const granted = await reader();
    for (const url of [path("private-team"), `${path("private-team")}/stats`]) {
      const response = await app.request(`${url}?authorization=${granted}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("private, no-store");
    }
    const stream = await app.request(`${path("private-team")}/stream?authorization=${granted}`);
    expect(stream.headers.get("cache-control")).toBe("no-cache, no-transform");
    await stream.body?.cancel();
  });

  it("takes the cookie named by AUTH_COOKIE", async () => {
    const app = authApp({ AUTH_COOKIE: "sse_jwt" });
    const granted = await reader();
    expect((await app.request(path("private-team"), { headers: { cookie: `sse_jwt=${granted}` } })).status).toBe(200);
    expect((await app.request(path("private-team"), { headers: { cookie: `edge_sse_token=${granted}` } })).status).toBe(
      401,
    );
  });

  it("keeps public channels open without a token", async () => {
    const app = authApp();
    expect((await app.request(path("news"))).status).toBe(200);
    expect((await app.request(`${path("news")}/stats`)).status).toBe(200);
    const stream = await app.request(`${path("news")}/stream`);
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
  });

  it("guards the default channel on every path once it is made private, the seed's /api/ssemessages too", async () => {
    const app = authApp({ PRIVATE_CHANNELS: "default" });
    for (const url of ["/api/messages", "/api/messages/stats", "/api/messages/stream", "/api/ssemessages"]) {
      await expectError(await app.request(url), 401, "unauthorized");
    }
    const granted = await token({ subscribe: ["default"] });
    const stream = await app.request(`/api/ssemessages?authorization=${granted}`);
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
  });

  it("makes every channel private with PRIVATE_CHANNELS=*", async () => {
    const app = authApp({ PRIVATE_CHANNELS: "*" });
    await expectError(await app.request(path("news")), 401, "unauthorized");
  });
});

describe("authorization off (the default)", () => {
  it("publishes and reads any channel without a token, as before", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await publish(app, "private-team");
    expect(response.status).toBe(201);
    expect(response.headers.get("www-authenticate")).toBeNull();
    expect((await app.request(path("private-team"))).status).toBe(200);
    // A token is not even looked at.
    expect((await publish(app, "news", "garbage")).status).toBe(201);
  });

  it("sends no CORS headers", async () => {
    const app = createApp(DEFAULT_CONFIG);
    const response = await app.request("/api/messages", { headers: { origin: "https://app.example" } });
    const names: string[] = [];
    response.headers.forEach((_, name) => {
      names.push(name);
    });
    expect(names.filter((name) => name.startsWith("access-control-"))).toEqual([]);
  });
});

describe("CORS", () => {
  const ALLOWED = "https://app.example";
  const corsApp = () => authApp({ CORS_ORIGINS: `${ALLOWED}, http://localhost:3000` });
  const preflight = (app: ReturnType<typeof createApp>, origin: string) =>
    app.request(path("news"), {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });

  it("answers a preflight for POST with authorization and content-type from an allowed origin", async () => {
    const response = await preflight(corsApp(), ALLOWED);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("access-control-allow-methods")?.split(",")).toContain("POST");
    const allowed = response.headers.get("access-control-allow-headers")?.toLowerCase().split(",");
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "idempotency-key"]));
  });

  it("does not allow another origin", async () => {
    const response = await preflight(corsApp(), "https://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const get = await corsApp().request(path("news"), { headers: { origin: "https://evil.example" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets an allowed origin read a stream with credentials, and read a refusal with its challenge", async () => {
    const app = corsApp();
    const granted = await token({ subscribe: ["private-team"] });
    const stream = await app.request(`${path("private-team")}/stream`, {
      headers: { origin: ALLOWED, cookie: `edge_sse_token=${granted}` },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(stream.headers.get("access-control-allow-credentials")).toBe("true");
    expect(stream.headers.get("vary")).toMatch(/origin/i);
    await stream.body?.cancel();

    const refused = await app.request(`${path("private-team")}/stream`, { headers: { origin: ALLOWED } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    expect(refused.headers.get("access-control-expose-headers")?.toLowerCase()).toContain("www-authenticate");
  });
});

describe("the publish rate limit", () => {
  it("answers 429 with Retry-After after the limit, per token subject, without storing", async () => {
    const app = authApp({ PUBLISH_RATE_LIMIT: "3" });
    const ann = await token({ publish: ["*"] }, { sub: "ann" });
    const bob = await token({ publish: ["*"] }, { sub: "bob" });
    for (let i = 0; i < 3; i++) expect((await publish(app, "news", ann)).status).toBe(201);
    const limited = await publish(app, "news", ann);
    const retryAfter = Number(limited.headers.get("retry-after"));
    await expectError(limited, 429, "rate_limited");
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await storedCount(app, "news")).toBe(3);
    // Another subject has its own allowance.
    expect((await publish(app, "news", bob)).status).toBe(201);
  });

  it("does not count refused tokens against anyone", async () => {
    const app = authApp({ PUBLISH_RATE_LIMIT: "1" }, () => "192.0.2.1");
    for (let i = 0; i < 3; i++) expect((await publish(app, "news", "garbage")).status).toBe(401);
    expect((await publish(app, "news", await token({ publish: ["*"] }))).status).toBe(201);
  });

  it("counts per client address when there is no token (authorization off)", async () => {
    let address = "192.0.2.1";
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "2" }), { clientAddress: () => address });
    expect((await publish(app, "news")).status).toBe(201);
    expect((await publish(app, "news")).status).toBe(201);
    await expectError(await publish(app, "news"), 429, "rate_limited");
    address = "192.0.2.2";
    expect((await publish(app, "news")).status).toBe(201);
  });

  it("is off at 0: no limit headers", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0" }));
    const response = await publish(app, "news");
    expect(response.status).toBe(201);
    expect(response.headers.get("ratelimit-limit")).toBeNull();
    // The default (600 a minute) announces itself.
    expect((await publish(createApp(DEFAULT_CONFIG), "news")).headers.get("ratelimit-limit")).toBe("600");
  });
});

describe("authorization settings", () => {
  it.each([
    [{ AUTH_SECRET: "short" }, /AUTH_SECRET must be at least 32 bytes/],
    [{ AUTH_SECRET: SECRET, AUTH_ALGORITHM: "HS512" }, /AUTH_SECRET must be at least 64 bytes/],
    [{ AUTH_ALGORITHM: "RS256" }, /AUTH_ALGORITHM must be one of HS256, HS384, HS512/],
    [{ PRIVATE_CHANNELS: "private-*, bad channel" }, /PRIVATE_CHANNELS: "bad channel"/],
    [{ PRIVATE_CHANNELS: "a*b" }, /PRIVATE_CHANNELS: "a\*b"/],
    [{ AUTH_COOKIE: "a;b" }, /AUTH_COOKIE/],
    [{ CORS_ORIGINS: "https://app.example/" }, /CORS_ORIGINS: "https:\/\/app.example\/"/],
    [{ CORS_ORIGINS: "app.example" }, /CORS_ORIGINS/],
    [{ PUBLISH_RATE_LIMIT: "-1" }, /PUBLISH_RATE_LIMIT must be a whole number/],
  ])("stops start-up on %o", (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });

  it("reads lists and keeps the documented defaults", () => {
    expect(readConfig({})).toMatchObject({
      authSecret: "",
      authAlgorithm: "HS256",
      privateChannels: ["private-*"],
      authCookie: "edge_sse_token",
      corsOrigins: [],
      publishRateLimit: 600,
    });
    expect(
      readConfig({ PRIVATE_CHANNELS: " a, b-* ,", CORS_ORIGINS: "https://a.example,http://localhost:3000" }),
    ).toMatchObject({
      privateChannels: ["a", "b-*"],
      corsOrigins: ["https://a.example", "http://localhost:3000"],
    });
    expect(readConfig({ PRIVATE_CHANNELS: "" }).privateChannels).toEqual([]);
  });
});

describe("durable streams with authorization on", () => {
  const put = (app: ReturnType<typeof createApp>, name: string, bearer: string, headers: HeadersInit = {}) =>
    app.request(`/v1/stream/${name}`, {
      method: "PUT",
      headers: { "content-type": "text/plain", authorization: `Bearer ${bearer}`, ...headers },
      body: "secret",
    });

  it("forks a private stream only for a token that may read it: 403 otherwise, and no fork is made", async () => {
    const app = authApp();
    const owner = await token({ publish: ["private-vault", "copy-*"], subscribe: ["private-vault"] });
    expect((await put(app, "private-vault", owner)).status).toBe(201);

    // May create copy-* streams, may not read the private source.
    const writer = await token({ publish: ["copy-*"] });
    const refused = await put(app, "copy-1", writer, { "stream-forked-from": "/v1/stream/private-vault" });
    await expectError(refused, 403, "forbidden");
    const notMade = await app.request("/v1/stream/copy-1", { method: "HEAD" });
    expect(notMade.status).toBe(404);

    const allowed = await put(app, "copy-2", owner, { "stream-forked-from": "/v1/stream/private-vault" });
    expect(allowed.status).toBe(201);
    expect(await (await app.request("/v1/stream/copy-2?offset=-1")).text()).toBe("secretsecret");
  });
});
