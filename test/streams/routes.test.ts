/**
 * The /v1/stream routes in the demo app, in-process (Hono's `app.request`): errors in edge-sse's
 * JSON shape with the protocol's status and headers, bad input that changes nothing, and the same
 * authorization as channels (a token names streams as it names channels; PRIVATE_CHANNELS patterns
 * make streams private; every write needs a token once AUTH_SECRET is set).
 */
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { readConfig } from "../../src/config.ts";

const SECRET = "a-test-secret-that-is-32-bytes-long!";
const token = (sse: { publish?: string[]; subscribe?: string[] }) =>
  sign({ sub: "tester", exp: Math.floor(Date.now() / 1000) + 60, sse }, SECRET);
const bearer = async (sse: { publish?: string[]; subscribe?: string[] }) => ({
  authorization: `Bearer ${await token(sse)}`,
});

type App = ReturnType<typeof createApp>;
const put = (app: App, name: string, headers: Record<string, string> = {}, body?: string) =>
  app.request(`/v1/stream/${name}`, { method: "PUT", headers: { "content-type": "text/plain", ...headers }, body });
const post = (app: App, name: string, body: string, headers: Record<string, string> = {}) =>
  app.request(`/v1/stream/${name}`, { method: "POST", headers: { "content-type": "text/plain", ...headers }, body });
const read = async (app: App, name: string, headers: Record<string, string> = {}) =>
  (await app.request(`/v1/stream/${name}?offset=-1`, { headers })).text();

describe("the /v1/stream routes", () => {
  it("answers bad input with the JSON error shape and the protocol's status, and stores nothing", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0" }));
    expect((await put(app, "bad-input", {}, "kept")).status).toBe(201);
    const cases: [Response | Promise<Response>, number, string][] = [
      [app.request("/v1/stream/bad-input?offset=12,3"), 400, "invalid_offset"],
      [post(app, "bad-input", "x", { "producer-id": "p" }), 400, "invalid_header"],
      [post(app, "bad-input", "x", { "content-type": "application/json" }), 409, "content_type_mismatch"],
      [post(app, "bad-input", ""), 400, "invalid_body"],
      [put(app, "bad-input", { "stream-ttl": "+5" }), 400, "invalid_header"],
      [put(app, "bad-input", { "content-type": "application/json" }), 409, "conflict"],
      [post(app, "missing", "x"), 404, "not_found"],
      [put(app, "a%07b"), 400, "invalid_stream_name"],
    ];
    for (const [answer, status, code] of cases) {
      const response = await answer;
      expect(response.status).toBe(status);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
    }
    expect(await read(app, "bad-input")).toBe("kept");
  });

  it("refuses an append over STREAM_MAX_APPEND_BYTES with 413 before storing it", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0", STREAM_MAX_APPEND_BYTES: "8" }));
    await put(app, "limited");
    const refused = await post(app, "limited", "123456789");
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("body_too_large");
    expect((await post(app, "limited", "12345678")).status).toBe(204);
    expect(await read(app, "limited")).toBe("12345678");
  });

  it("reads a body with a Content-Length in one piece, and still refuses one over the limit, declared or not", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0", STREAM_MAX_APPEND_BYTES: "8" }));
    await put(app, "declared");
    expect((await post(app, "declared", "123456789", { "content-length": "9" })).status).toBe(413);
    // A server's parser ends a body at its declared length; a Request made in-process need not.
    expect((await post(app, "declared", "123456789", { "content-length": "3" })).status).toBe(413);
    expect((await post(app, "declared", "1234", { "content-length": "4" })).status).toBe(204);
    expect((await post(app, "declared", "5678", { "content-length": "4" })).status).toBe(204);
    expect(await read(app, "declared")).toBe("12345678");
  });

  it("gives every write's answer, errors too, the CORS, security and RateLimit headers", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "10", CORS_ORIGINS: "https://a.example" }), {
      clientAddress: () => "192.0.2.1",
    });
    const origin = { origin: "https://a.example" };
    const answers = [
      [await put(app, "limited-writes", origin), 201],
      [await post(app, "limited-writes", "x", origin), 204],
      [await post(app, "no-such-stream", "x", origin), 404],
      [await post(app, "limited-writes", "x", { ...origin, "producer-id": "p" }), 400],
      [await app.request("/v1/stream/limited-writes", { method: "DELETE", headers: origin }), 204],
    ] as const;
    answers.forEach(([answer, status], index) => {
      expect(answer.status).toBe(status);
      expect(answer.headers.get("ratelimit-remaining")).toBe(String(9 - index));
      expect(answer.headers.get("access-control-allow-origin")).toBe("https://a.example");
      expect(answer.headers.get("access-control-allow-credentials")).toBe("true");
      expect(answer.headers.get("access-control-expose-headers")).toContain("stream-next-offset");
      expect(answer.headers.get("vary")).toBe("Origin");
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    });
  });

  it("answers a closed stream's append with 409, Stream-Closed and the final offset", async () => {
    const app = createApp(readConfig({ PUBLISH_RATE_LIMIT: "0" }));
    await put(app, "closing", { "stream-closed": "true" }, "done");
    const refused = await post(app, "closing", "more");
    expect(refused.status).toBe(409);
    expect(refused.headers.get("stream-closed")).toBe("true");
    expect(refused.headers.get("stream-next-offset")).toBe("0000000000000000_0000000000000001");
    expect(await read(app, "closing")).toBe("done");
  });

  it("needs a publish token to write and a subscribe token to read a private stream once AUTH_SECRET is set", async () => {
    const app = createApp(readConfig({ AUTH_SECRET: SECRET, PUBLISH_RATE_LIMIT: "0" }));
    expect((await put(app, "open-1")).status).toBe(401);
    expect((await put(app, "open-1", await bearer({ publish: ["other"] }))).status).toBe(403);
    expect((await put(app, "open-1", await bearer({ publish: ["open-*"] }), "public")).status).toBe(201);
    expect(await read(app, "open-1")).toBe("public"); // not private: anyone reads

    const writer = await bearer({ publish: ["private-*"] });
    expect((await put(app, "private-1", writer, "secret")).status).toBe(201);
    const anonymous = await app.request("/v1/stream/private-1?offset=-1");
    expect(anonymous.status).toBe(401);
    expect((await app.request("/v1/stream/private-1", { method: "HEAD" })).status).toBe(401);
    expect(await read(app, "private-1", await bearer({ subscribe: ["private-1"] }))).toBe("secret");
  });
});
