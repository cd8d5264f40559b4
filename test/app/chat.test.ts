/**
 * The demo chat's routes in process (createApp with the in-memory log): what POST refuses (a bad
 * body, a second answer for a chat, answers beyond the per-client cap), stop's answers, and a
 * finished answer that stops being resumable CHAT_ANSWER_TTL_SECONDS after its last use.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import type { ChatSettings } from "../../src/app/chat.ts";
import { chatRoutesWith } from "../../src/app/chat.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";
import { MemoryLog } from "../../src/hub/memory/memory-log.ts";

const SLOW: ChatSettings = { demoModelDelayMs: 60_000, chatAnswerTtlSeconds: 60, chatMaxAnswersPerClient: 2 };

let now = Date.now();
const clock = () => now;
const apps: ReturnType<typeof createApp>[] = [];
const started: { app: ReturnType<typeof createApp>; id: string; body: ReadableStream | null }[] = [];

function appWith(chat: ChatSettings) {
  const app = createApp(DEFAULT_CONFIG, {
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

async function ask(app: ReturnType<typeof createApp>, id: string) {
  const response = await app.request("/api/chat", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(id),
  });
  if (response.status === 200) started.push({ app, id, body: response.body });
  return response;
}

afterEach(async () => {
  // Every answer stopped, every reader cancelled: no demo model left waiting on its timer.
  for (const { app, id, body } of started.splice(0)) {
    await app.request(`/api/chat/${id}/stream`, { method: "DELETE" });
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
