/**
 * The demo chat's routes in process (createApp with the in-memory log): what POST refuses (a bad
 * body, a second answer for a chat, answers beyond the per-client cap), stop's answers, a finished
 * answer that stops being resumable CHAT_ANSWER_TTL_SECONDS after its last use; the tokens the routes
 * want with AUTH_SECRET set, and the answers' streams, read-only at /v1/stream with or without it.
 */
import { sign } from "hono/jwt";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import type { ChatSettings } from "../../src/app/chat.ts";
import { chatRoutesWith } from "../../src/app/chat.ts";
import { type Config, DEFAULT_CONFIG, readConfig } from "../../src/config.ts";
import { MemoryLog } from "../../src/hub/memory/memory-log.ts";

const SLOW: ChatSettings = { demoModelDelayMs: 60_000, chatAnswerTtlSeconds: 60, chatMaxAnswersPerClient: 2 };

let now = Date.now();
const clock = () => now;
const apps: ReturnType<typeof createApp>[] = [];
const started: { app: ReturnType<typeof createApp>; id: string; body: ReadableStream | null }[] = [];

function appWith(chat: ChatSettings, config: Config = DEFAULT_CONFIG) {
  const app = createApp(config, {
    chat: chatRoutesWith(chat),
    log: new MemoryLog(undefined, clock),
    clientAddress: () => "10.0.0.1",
  });
  apps.push(app);
  return app;
}

const body = (id: string) =>
  JSON.stringify({
    id,
    messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] }],
    trigger: "submit-message",
  });

async function ask(app: ReturnType<typeof createApp>, id: string, headers: Record<string, string> = {}) {
  const response = await app.request("/api/chat", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body(id),
  });
  if (response.status === 200) started.push({ app, id, body: response.body });
  return response;
}

afterEach(async () => {
  // Every answer stopped, every reader cancelled: no demo model left waiting on its timer.
  for (const { app, id, body } of started.splice(0)) {
    await app.request(`/api/chat/${id}/stream`, { method: "DELETE", headers: await bearer({ publish: ["*"] }) });
    if (body?.locked === false) await body.cancel();
  }
  now = Date.now();
});

describe("the demo chat's routes", () => {
  it("refuses a body that is not a chat request", async () => {
    const app = appWith(SLOW);
    for (const sent of ["{", JSON.stringify({ id: "a b", messages: [] }), JSON.stringify({ id: "..", messages: [] })]) {
      const response = await app.request("/api/chat", { method: "POST", body: sent });
      expect(response.status).toBe(400);
    }
  });

  it("refuses a second answer for a chat while one is in flight (409), and takes one once it is stopped", async () => {
    const app = appWith(SLOW);
    expect((await ask(app, "one")).status).toBe(200);
    const second = await ask(app, "one");
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: { code: "answer_in_flight" } });
    expect((await app.request("/api/chat/one/stream", { method: "DELETE" })).status).toBe(204);
    await expect
      .poll(
        async () =>
          ((await (await app.request("/api/chat/stats")).json()) as { answersInFlight: number }).answersInFlight,
      )
      .toBe(0);
    expect((await ask(app, "one")).status).toBe(200);
  });

  it("caps the answers in flight per client address (429 with Retry-After)", async () => {
    const app = appWith(SLOW);
    expect((await ask(app, "c1")).status).toBe(200);
    expect((await ask(app, "c2")).status).toBe(200);
    const third = await ask(app, "c3");
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("5");
    expect(await third.json()).toMatchObject({ error: { code: "too_many_answers" } });
  });

  it("counts starts and stops against PUBLISH_RATE_LIMIT, and starts nothing past it", async () => {
    const app = appWith(SLOW, readConfig({ PUBLISH_RATE_LIMIT: "2" }));
    expect((await ask(app, "r1")).status).toBe(200);
    expect((await app.request("/api/chat/r1/stream", { method: "DELETE" })).status).toBe(204);
    const limited = await ask(app, "r2");
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: { code: "rate_limited" } });
    expect((await app.request("/api/chat/r2/stream")).status).toBe(204);
  });

  it("lets an allowed origin stop an answer: the preflight allows DELETE", async () => {
    const app = appWith(SLOW, readConfig({ CORS_ORIGINS: "https://app.example.com" }));
    const preflight = await app.request("/api/chat/c1/stream", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "DELETE" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")?.split(",")).toContain("DELETE");
  });

  it("answers a stop with 404 when the chat has no answer in flight", async () => {
    const app = appWith(SLOW);
    const response = await app.request("/api/chat/none/stream", { method: "DELETE" });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "no_answer_in_flight" } });
  });

  it("resumes a finished answer until CHAT_ANSWER_TTL_SECONDS after its last use, then answers 204", async () => {
    const app = appWith({ ...SLOW, demoModelDelayMs: 0, chatAnswerTtlSeconds: 30 });
    const response = await ask(app, "done");
    expect(await response.text()).toMatch(/data:\[DONE\]\n\n$/);
    now += 29_000;
    const resumed = await app.request("/api/chat/done/stream");
    expect(resumed.status).toBe(200);
    expect(await resumed.text()).toMatch(/data:\[DONE\]\n\n$/);
    // The read above was a use: the TTL counts from it.
    now += 31_000;
    expect((await app.request("/api/chat/done/stream")).status).toBe(204);
  });
});

const SECRET = "a-test-secret-that-is-32-bytes-long!";
const bearer = async (sse: { publish?: string[]; subscribe?: string[] }) => ({
  authorization: `Bearer ${await sign({ sub: "tester", exp: Math.floor(Date.now() / 1000) + 60, sse }, SECRET)}`,
});

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
}

describe("the demo chat with AUTH_SECRET set", () => {
  const authApp = () => appWith(SLOW, readConfig({ AUTH_SECRET: SECRET }));

  it("starts an answer only with a token whose sse.publish names ai/chat/{id}, and starts nothing otherwise", async () => {
    const app = authApp();
    await expectError(await ask(app, "mine"), 401, "unauthorized");
    await expectError(await ask(app, "mine", await bearer({ publish: ["ai/chat/other"] })), 403, "forbidden");
    await expectError(await ask(app, "mine", await bearer({ subscribe: ["ai/chat/mine"] })), 403, "forbidden");
    expect((await app.request("/api/chat/mine/stream", { headers: await bearer({ subscribe: ["*"] }) })).status).toBe(
      204,
    );
    expect((await ask(app, "mine", await bearer({ publish: ["ai/chat/mine"] }))).status).toBe(200);
  });

  it("reads an answer only with a token whose sse.subscribe names it, whatever PRIVATE_CHANNELS says, at /api/chat and at /v1/stream", async () => {
    const app = authApp();
    expect((await ask(app, "read", await bearer({ publish: ["ai/chat/*"] }))).status).toBe(200);
    for (const path of ["/api/chat/read/stream", "/v1/stream/ai/chat/read?offset=-1"]) {
      await expectError(await app.request(path), 401, "unauthorized");
      await expectError(
        await app.request(path, { headers: await bearer({ subscribe: ["ai/chat/other"] }) }),
        403,
        "forbidden",
      );
      const allowed = await app.request(path, { headers: await bearer({ subscribe: ["ai/chat/read"] }) });
      expect(allowed.status).toBe(200);
      await allowed.body?.cancel();
    }
  });

  it("stops an answer only with a token whose sse.publish names it", async () => {
    const app = authApp();
    expect((await ask(app, "stop", await bearer({ publish: ["ai/chat/stop"] }))).status).toBe(200);
    const stop = (headers: Record<string, string> = {}) =>
      app.request("/api/chat/stop/stream", { method: "DELETE", headers });
    await expectError(await stop(), 401, "unauthorized");
    await expectError(await stop(await bearer({ subscribe: ["ai/chat/stop"] })), 403, "forbidden");
    expect((await stop(await bearer({ publish: ["ai/chat/stop"] }))).status).toBe(204);
  });
});

describe("the answers' streams at /v1/stream", () => {
  for (const [label, config, writer] of [
    ["without AUTH_SECRET", DEFAULT_CONFIG, async () => ({})],
    ["with a token that may publish everywhere", readConfig({ AUTH_SECRET: SECRET }), () => bearer({ publish: ["*"] })],
  ] as const) {
    it(`are read-only ${label}: 405 to a create, an append, a close and a delete, and nothing changes`, async () => {
      const app = appWith(SLOW, config);
      const owner = await bearer({ publish: ["*"], subscribe: ["*"] });
      expect((await ask(app, "ro", owner)).status).toBe(200);
      const read = async () => (await app.request("/v1/stream/ai/chat/ro?offset=-1", { headers: owner })).text();
      // The model's first words are a minute away: the stream holds still once its text has started.
      await expect.poll(read).toContain("text-start");
      const before = await read();
      const json = { "content-type": "application/json", ...(await writer()) };
      for (const [method, path, headers, sent] of [
        ["POST", "ai/chat/ro", json, '[{"type":"text-delta","id":"text-0","delta":"forged"}]'],
        ["POST", "ai/chat/ro", { ...json, "stream-closed": "true" }, "[]"],
        ["DELETE", "ai/chat/ro", json, undefined],
        ["PUT", "ai/chat/next", json, undefined],
        ["PUT", "ai%2Fchat%2Fencoded", json, undefined],
      ] as const) {
        const response = await app.request(`/v1/stream/${path}`, { method, headers, body: sent });
        expect(response.headers.get("allow"), `${method} ${path}`).toBe("GET, HEAD, OPTIONS");
        await expectError(response, 405, "read_only_stream");
      }
      expect(await read()).toBe(before);
      // The chat's own stop still works, and other streams are writable as ever.
      expect((await app.request("/api/chat/ro/stream", { method: "DELETE", headers: owner })).status).toBe(204);
      expect((await app.request("/v1/stream/ai/other", { method: "PUT", headers: json })).status).toBe(201);
    });
  }
});
